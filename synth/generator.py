"""Orchestrates one generation run: people -> school histories -> partner files -> truth."""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InputRejected, Location
from synth import k12
from synth.calpads_writer import CalpadsWriter, write_all
from synth.ccgi import CcgiWriter
from synth.chunks import STAGING, ChunkJob, run_chunks
from synth.college import CollegeWriter
from synth.defects import Defects, parse_defects
from synth.names import load_pools
from synth.noise import NoiseRates
from synth.orgs import write_partners
from synth.population import make_adults, make_k12_students
from synth.truth import TruthRecorder
from synth.world import WORLDS, World, get_world

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
    workers: int | None = None,
) -> GenerationSummary:
    """Write a complete landing tree for ``students`` K-12 students under ``out_dir``.

    The same (students, seed, years, noise, defects) always gives byte-identical files.
    ``out_dir`` is emptied of a previous generated tree (its ``calpads``, ``college`` and
    ``ccgi`` folders). ``defects``: profile names of :data:`synth.defects.PROFILES` (or
    ``"all"``); they change only the files they name and add a ``defects`` column to the truth
    file; without them the output is what it always was. ``world``: ``"small"`` (7 LEAs, 4
    colleges; the default) or ``"state"`` (California's organisational shape, synth.world).

    Memory is bounded: past ``chunk_students`` (default :data:`CHUNK_STUDENTS`) students the
    run goes in chunks of people (synth.chunks), ``workers`` chunks at a time in their own
    processes (default :func:`chunk_workers`), merged in chunk order into the same LEA, college
    and week files; the truth file is streamed. A run of one chunk gives the files it always
    gave; a chunked run is as deterministic (the same bytes whatever ``workers``), with other
    draws than one chunk of the same size.
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

    if len(chunks) > 1:
        return _generate_chunked(out, students, seed, starts, labels, rates, orgs, chunks,
                                 chunk_workers(workers), progress, began, world)

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
    college = CollegeWriter(out, starts, seed, rates, truth, chosen, orgs)
    ccgi = CcgiWriter(out, starts, seed, rates, truth, chosen)
    truth_path = out / "truth.parquet"
    truth_path.unlink(missing_ok=True)
    count = chunks[0]
    tick("people", 0, count)
    people = make_k12_students(random.Random(f"{seed}:people"), pools, count, starts, rates)
    adults = make_adults(random.Random(f"{seed}:adults"), pools, int(count * ADULT_SHARE),
                         len(people))
    tick("people", count, count)
    stints = k12.simulate(random.Random(f"{seed}:k12"), people, starts, orgs)
    tick("school histories", 1, 1)
    if chosen is not None:
        chosen.prepare(stints)
    total = len(stints)
    done = 0

    def calpads_tick(n: int) -> None:
        nonlocal done
        done += n
        tick("CALPADS extracts", done, total)

    write_all(calpads, stints, calpads_tick)
    tick("CALPADS extracts", total, total)
    tick("college files", 0, 1)
    college.write(college.plan(people, stints, adults))
    tick("college files", 1, 1)
    tick("CCGI weekly files", 0, 1)
    ccgi.write(stints)
    tick("CCGI weekly files", 1, 1)
    tick("truth file", 0, 1)
    truth_rows = truth.write(truth_path, people + adults)
    tick("truth file", 1, 1)
    write_partners(out / "partners.csv", orgs.leas, orgs.colleges, orgs.silent,
                   years=list(labels))
    extra_bytes = (out / "partners.csv").stat().st_size + truth_path.stat().st_size
    files = calpads.files_written + college.files_written + ccgi.files_written + 2
    return GenerationSummary(
        out_dir=out,
        students=students,
        people=len(people) + len(adults),
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
    )


def chunk_workers(workers: int | None) -> int:
    """Processes for a chunked run: ``workers``, else ``C2C_GENERATE_WORKERS``, else 2 (the
    cores this machine has; each holds one chunk, about 1.6 GiB at the peak)."""
    if workers is None:
        text = os.environ.get("C2C_GENERATE_WORKERS", "").strip()
        workers = int(text) if text.isdigit() else min(2, os.cpu_count() or 1)
    return max(1, workers)


def _generate_chunked(
    out: Path, students: int, seed: int, starts: list[int], labels: tuple[str, ...],
    rates: NoiseRates, orgs: World, chunks: list[int], workers: int,
    progress: ProgressFn | None, began: float, world: str,
) -> GenerationSummary:
    """The run in chunks of people (synth.chunks): each chunk simulated and written on its own,
    ``workers`` at a time, merged in chunk order; CRSC last, from every chunk's sections."""
    jobs: list[ChunkJob] = []
    first = 0
    for k, count in enumerate(chunks):
        jobs.append(ChunkJob(k, len(chunks), count, first, seed, tuple(starts), rates, orgs,
                             out / STAGING / f"{k:03d}", ADULT_SHARE))
        first += count + int(count * ADULT_SHARE)
    truth_path = out / "truth.parquet"
    truth_path.unlink(missing_ok=True)
    merged = run_chunks(out, jobs, workers, truth_path, progress)
    crsc = CalpadsWriter(out, starts, seed, rates, TruthRecorder(), None, orgs)
    crsc.chunked = True
    crsc.sections = merged.sections
    crsc.finish()
    write_partners(out / "partners.csv", orgs.leas, orgs.colleges, orgs.silent,
                   years=list(labels))
    by_source = {"calpads": crsc.files_written, "college": 0, "ccgi": 0}
    for rel in merged.lines:
        by_source[rel.split("/", 1)[0]] += 1
    written = [out / rel for rel in merged.lines] + [out / "partners.csv", truth_path]
    return GenerationSummary(
        out_dir=out, students=students, people=merged.people, years=labels,
        files=sum(by_source.values()) + 2,
        bytes=sum(p.stat().st_size for p in written) + crsc.bytes_written,
        truth_rows=merged.truth_rows, seconds=time.perf_counter() - began,
        files_by_source={**by_source, "registry": 1, "truth": 1},
        stage_seconds=merged.stage_seconds, world=world, chunks=len(chunks),
    )


def _chunks(students: int, size: int) -> list[int]:
    """Students per chunk: as equal as can be, none over ``size``."""
    n = max(1, -(-students // max(1, size)))
    return [students // n + (1 if k < students % n else 0) for k in range(n)]


def generate_small(out_dir: Path, seed: int = 7) -> GenerationSummary:
    """A small tree (200 students, two years) for other areas' tests; takes well under 3 s."""
    return generate(Path(out_dir), students=200, seed=seed, years=["2022-23", "2023-24"])


__all__ = ["CHUNK_STUDENTS", "DEFAULT_YEARS", "GenerationSummary", "generate", "generate_small",
           "parse_years"]
