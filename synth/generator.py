"""Orchestrates one generation run: people -> school histories -> partner files -> truth."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from core.errors import InputRejected, Location
from synth import k12
from synth.calpads_writer import CalpadsWriter, write_all
from synth.ccgi import CcgiWriter
from synth.college import CollegeWriter
from synth.defects import Defects, parse_defects
from synth.names import load_pools
from synth.noise import NoiseRates
from synth.orgs import write_partners
from synth.population import make_adults, make_k12_students
from synth.truth import TruthRecorder
from synth.world import WORLDS, get_world

DEFAULT_YEARS: tuple[str, ...] = ("2021-22", "2022-23", "2023-24")
ADULT_SHARE = 0.2  # college-only people, as a share of the K-12 students
# Students per chunk of a large run: about 1.5 GB of Python objects at the peak. Chunks of
# 250,000 make California (5.85 million) 24 chunks and leave every smaller run one chunk.
CHUNK_STUDENTS = 250_000

ProgressFn = Callable[[str, int, int], None]
"""progress(stage, done, total): called as work advances (stage names are human-readable)."""


@dataclass(frozen=True)
class GenerationSummary:
    out_dir: Path
    students: int  # K-12 students asked for
    people: int  # all true people (K-12 + college-only adults)
    years: tuple[str, ...]
    files: int
    bytes: int
    truth_rows: int
    seconds: float
    files_by_source: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    defects: tuple[str, ...] = ()
    defect_partners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    world: str = "small"
    chunks: int = 1


def parse_years(years: list[str]) -> list[int]:
    """``["2022-23", ...]`` -> start years, sorted; rejects malformed or non-consecutive labels."""
    starts = []
    for label in years:
        text = label.strip()
        if len(text) == 9 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
            text = f"{text[:4]}-{text[7:]}"  # accept the CALPADS form 2022-2023 too
        ok = len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit()
        if not ok or int(text[5:]) != (int(text[:4]) + 1) % 100:
            raise InputRejected(
                f"academic year {label!r} is not of the form 2022-23",
                Location(file="arguments", field="years", value=label, rule="CCYY-YY"),
            )
        starts.append(int(text[:4]))
    starts = sorted(set(starts))
    if not starts:
        raise InputRejected("at least one academic year is needed",
                            Location(file="arguments", field="years", value="", rule="non-empty"))
    return starts


def generate(
    out_dir: Path,
    students: int,
    seed: int,
    years: list[str] | None = None,
    noise: NoiseRates | None = None,
    progress: ProgressFn | None = None,
    defects: str | Sequence[str] | None = None,
    world: str = "small",
    chunk_students: int | None = None,
) -> GenerationSummary:
    """Write a complete landing tree for ``students`` K-12 students under ``out_dir``.

    The same (students, seed, years, noise, defects) always gives byte-identical files.
    ``out_dir`` is emptied of a previous generated tree (its ``calpads``, ``college`` and
    ``ccgi`` folders). ``defects``: profile names of :data:`synth.defects.PROFILES` (or
    ``"all"``); they change only the files they name and add a ``defects`` column to the truth
    file; without them the output is what it always was. ``world``: ``"small"`` (7 LEAs, 4
    colleges; the default) or ``"state"`` (California's organisational shape, synth.world).

    Memory is bounded: past ``chunk_students`` (default :data:`CHUNK_STUDENTS`) students the
    run goes in chunks of people, each simulated and written (appended to the same LEA, college
    and week files) before the next is drawn, and the truth file is streamed. A run of one
    chunk gives the files it always gave; a chunked run is as deterministic, with other draws.
    """
    chunk_students = chunk_students or CHUNK_STUDENTS
    began = time.perf_counter()
    if students < 1:
        raise InputRejected("--students must be at least 1", Location(
            file="arguments", field="students", value=str(students), rule=">= 1"))
    rates = noise or NoiseRates()
    defect_names = parse_defects(defects)
    if world not in WORLDS:
        raise InputRejected(f"unknown world {world!r}; known: {', '.join(WORLDS)}", Location(
            file="arguments", field="world", value=world, rule="small or state"))
    orgs = get_world(world)
    starts = parse_years(list(years or DEFAULT_YEARS))
    labels = tuple(f"{y}-{(y + 1) % 100:02d}" for y in starts)
    chunks = _chunks(students, chunk_students)
    if len(chunks) > 1 and defect_names:  # checked before the old tree is emptied
        raise InputRejected(
            f"defect profiles need one chunk: at most {chunk_students:,} students", Location(
                file="arguments", field="defects", value=",".join(defect_names),
                rule="students <= chunk size"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("calpads", "college", "ccgi"):
        shutil.rmtree(out / sub, ignore_errors=True)

    stage_seconds: dict[str, float] = {}
    stage_began = [time.perf_counter()]
    finished: set[str] = set()

    def tick(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)
        if done >= total and stage not in finished:  # time each stage once, when it ends
            finished.add(stage)
            now = time.perf_counter()
            stage_seconds[stage] = round(stage_seconds.get(stage, 0.0) + now - stage_began[0], 3)
            stage_began[0] = now

    pools = load_pools()
    truth = TruthRecorder(track_defects=bool(defect_names))
    chosen = None
    if defect_names:
        chosen = Defects(defect_names, seed, starts, orgs.leas, orgs.colleges)
    calpads = CalpadsWriter(out, starts, seed, rates, truth, chosen, orgs)
    calpads.chunked = len(chunks) > 1
    college = CollegeWriter(out, starts, seed, rates, truth, chosen, orgs)
    ccgi = CcgiWriter(out, starts, seed, rates, truth, chosen)
    truth_path = out / "truth.parquet"
    truth_path.unlink(missing_ok=True)
    parquet: pq.ParquetWriter | None = None
    truth_rows = people_count = 0
    next_index = 0
    try:
        for k, count in enumerate(chunks):
            # one chunk: the run as it always was; more: each chunk draws from its own streams
            # and its own SSID / account ranges, so chunks never share a person or an id
            cseed: int | str = seed if len(chunks) == 1 else f"{seed}.{k}"
            phase = "" if len(chunks) == 1 else f" (chunk {k + 1}/{len(chunks)})"
            ssids = _share(0, 10**10, k, len(chunks))
            if k:
                truth = TruthRecorder(track_defects=bool(defect_names))
                calpads.new_chunk()
                college.new_chunk()
                ccgi.new_chunk(_share(10**8, 10**9, k, len(chunks)))
                calpads.truth = college.truth = ccgi.truth = truth
            elif len(chunks) > 1:
                ccgi.new_chunk(_share(10**8, 10**9, k, len(chunks)))
            first = next_index
            tick("people" + phase, 0, count)
            people = make_k12_students(random.Random(f"{cseed}:people"), pools, count, starts,
                                       rates, start_index=first, ssid_range=ssids)
            adults = make_adults(random.Random(f"{cseed}:adults"), pools,
                                 int(count * ADULT_SHARE), first + len(people))
            next_index = first + len(people) + len(adults)
            people_count += len(people) + len(adults)
            tick("people" + phase, count, count)
            stints = k12.simulate(random.Random(f"{cseed}:k12"), people, starts, orgs)
            tick("school histories" + phase, 1, 1)
            if chosen is not None:
                chosen.prepare(stints)
            total = len(stints)
            done = 0

            def calpads_tick(n: int, phase: str = phase, total: int = total) -> None:
                nonlocal done
                done += n
                tick("CALPADS extracts" + phase, done, total)

            write_all(calpads, stints, calpads_tick)
            tick("CALPADS extracts" + phase, total, total)
            tick("college files" + phase, 0, 1)
            college.write(college.plan(people, stints, adults))
            tick("college files" + phase, 1, 1)
            tick("CCGI weekly files" + phase, 0, 1)
            ccgi.write(stints)
            tick("CCGI weekly files" + phase, 1, 1)
            tick("truth file" + phase, 0, 1)
            if len(chunks) == 1:
                truth_rows = truth.write(truth_path, people + adults)
            else:  # streamed: the truth of 5.85 million students is never in memory at once
                table = truth.table(people + adults, first_index=first)
                if parquet is None:
                    parquet = pq.ParquetWriter(truth_path, table.schema, compression="zstd")
                parquet.write_table(table)
                truth_rows += table.num_rows
            tick("truth file" + phase, 1, 1)
            del people, adults, stints
        if calpads.chunked:
            calpads.finish()
    finally:
        if parquet is not None:
            parquet.close()
    write_partners(out / "partners.csv", orgs.leas, orgs.colleges, orgs.silent,
                   years=list(labels))
    extra_bytes = (out / "partners.csv").stat().st_size + truth_path.stat().st_size
    files = calpads.files_written + college.files_written + ccgi.files_written + 2
    return GenerationSummary(
        out_dir=out,
        students=students,
        people=people_count,
        years=labels,
        files=files,
        bytes=calpads.bytes_written + college.bytes_written + ccgi.bytes_written + extra_bytes,
        truth_rows=truth_rows,
        seconds=time.perf_counter() - began,
        files_by_source={"calpads": calpads.files_written, "college": college.files_written,
                         "ccgi": ccgi.files_written, "registry": 1, "truth": 1},
        stage_seconds=stage_seconds,
        defects=defect_names,
        defect_partners=chosen.partners() if chosen else {},
        world=world,
        chunks=len(chunks),
    )


def _chunks(students: int, size: int) -> list[int]:
    """Students per chunk: as equal as can be, none over ``size``."""
    n = max(1, -(-students // max(1, size)))
    return [students // n + (1 if k < students % n else 0) for k in range(n)]


def _share(low: int, high: int, k: int, n: int) -> tuple[int, int]:
    """Chunk ``k`` of ``n``'s part of the id range [low, high)."""
    span = (high - low) // n
    return low + k * span, (high if k == n - 1 else low + (k + 1) * span)


def generate_small(out_dir: Path, seed: int = 7) -> GenerationSummary:
    """A small tree (200 students, two years) for other areas' tests; takes well under 3 s."""
    return generate(Path(out_dir), students=200, seed=seed, years=["2022-23", "2023-24"])


__all__ = ["CHUNK_STUDENTS", "DEFAULT_YEARS", "GenerationSummary", "generate", "generate_small",
           "parse_years"]
