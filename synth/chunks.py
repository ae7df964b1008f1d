"""A run in chunks (past :data:`synth.generator.CHUNK_STUDENTS`), chunks in parallel processes.

Each chunk is a pure function of (seed, chunk number, chunk sizes): its own random streams,
SSID / CCGI account ranges, and ranges of the per-LEA local ids and per-college student ids,
so it never needs another chunk's state. A worker writes its chunk's files into one staging
file ``out/.chunks/NNN/files.bin`` with an index (synth.blob) and its truth rows; the parent
merges the chunks **in chunk order**: a file seen first is created, a later chunk's part is
appended (a CSV without its header line) and its truth line numbers are shifted by the lines
already there. So the bytes do not depend on the number of worker processes, nor on which
chunk finished first. CRSC is written once at the end from the course sections every
chunk used (the first chunk to use a section gives its SEID).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq

from synth import k12
from synth.blob import Blob
from synth.calpads_writer import CalpadsWriter, write_all
from synth.ccgi import CcgiWriter
from synth.college import CollegeWriter
from synth.courses import Course
from synth.names import load_pools
from synth.noise import NoiseRates
from synth.population import make_adults, make_k12_students
from synth.truth import TruthRecorder
from synth.world import World

STAGING = ".chunks"
LOCAL_ID_SPACE = 10**7  # local ids are the LEA position and 7 digits of a per-LEA counter
COLLEGE_ID_SPACE = 10**6  # college ids: a per-college counter under 1,000,000 (see college.py)

Sections = dict[tuple[int, int], dict[tuple[str, str, str], tuple[Course, str]]]


@dataclass(frozen=True)
class ChunkJob:
    k: int
    chunks: int
    count: int  # K-12 students of this chunk
    first_index: int  # person index of its first person
    seed: int
    starts: tuple[int, ...]
    rates: NoiseRates
    world: World
    stage: Path
    adult_share: float


@dataclass
class ChunkResult:
    k: int
    stage: Path
    people: int
    lines: dict[str, int]  # relative file -> data lines written by this chunk
    parts: dict[str, list[tuple[int, int, int]]]  # relative file -> its parts in files.bin
    sections: Sections
    stage_seconds: dict[str, float] = field(default_factory=dict)


def share(low: int, high: int, k: int, n: int) -> tuple[int, int]:
    """Chunk ``k`` of ``n``'s part of the id range [low, high)."""
    span = (high - low) // n
    return low + k * span, (high if k == n - 1 else low + (k + 1) * span)


def run_chunk(job: ChunkJob) -> ChunkResult:
    """Simulate and write one chunk into its staging folder (in a worker process or not)."""
    k, n = job.k, job.chunks
    cseed = f"{job.seed}.{k}"
    starts = list(job.starts)
    shutil.rmtree(job.stage, ignore_errors=True)
    job.stage.mkdir(parents=True)
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        seconds[stage] = round(now - clock[0], 3)
        clock[0] = now

    truth = TruthRecorder()
    blob = Blob(job.stage / "files.bin")
    calpads = CalpadsWriter(job.stage, starts, cseed, job.rates, truth, None, job.world)
    calpads.chunked = True
    calpads.local_id_base = share(0, LOCAL_ID_SPACE, k, n)[0]
    college = CollegeWriter(job.stage, starts, cseed, job.rates, truth, None, job.world)
    college.id_base = share(0, COLLEGE_ID_SPACE, k, n)[0]
    ccgi = CcgiWriter(job.stage, starts, cseed, job.rates, truth, None,
                      account_range=share(10**8, 10**9, k, n))
    calpads.blob = college.blob = ccgi.blob = blob
    pools = load_pools()
    people = make_k12_students(random.Random(f"{cseed}:people"), pools, job.count, starts,
                               job.rates, start_index=job.first_index,
                               ssid_range=share(0, 10**10, k, n))
    adults = make_adults(random.Random(f"{cseed}:adults"), pools,
                         int(job.count * job.adult_share), job.first_index + len(people))
    lap("people")
    stints = k12.simulate(random.Random(f"{cseed}:k12"), people, starts, job.world)
    lap("school histories")
    write_all(calpads, stints)
    lap("CALPADS extracts")
    college.write(college.plan(people, stints, adults))
    lap("college files")
    ccgi.write(stints)
    blob.close()
    lap("CCGI weekly files")
    feather.write_feather(truth.table(people + adults, first_index=job.first_index),
                          job.stage / "truth.arrow", compression="uncompressed")
    lap("truth file")
    lines = {**calpads.lines_in, **college.lines_in, **ccgi.lines_in}
    return ChunkResult(k, job.stage, len(people) + len(adults), lines, blob.index,
                       calpads.sections, seconds)


def _results(jobs: list[ChunkJob], workers: int) -> Iterator[ChunkResult]:
    """Chunk results in chunk order; ``workers`` > 1 runs that many chunks at once."""
    if workers <= 1:
        yield from map(run_chunk, jobs)
        return
    # spawn, not fork: forking a process that runs other threads (Arrow's, DuckDB's, a Spark
    # gateway's, a test runner's) can copy a lock held by one of them into the child. Under
    # `make test` a forked pool hung for good that way; spawned workers import synth afresh
    # (each chunk depends only on the seed and its number, so the bytes are the same). A
    # worker keeps running chunks one after another (its peak stays one chunk's).
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap(run_chunk, jobs)
        pool.close()
        pool.join()


@dataclass
class Merged:
    lines: dict[str, int] = field(default_factory=dict)  # final file -> data lines
    sections: Sections = field(default_factory=dict)
    people: int = 0
    truth_rows: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)


def run_chunks(
    out: Path, jobs: list[ChunkJob], workers: int, truth_path: Path,
    progress: Callable[[str, int, int], None] | None = None,
) -> Merged:
    """Run ``jobs`` (``workers`` at a time) and merge each, in order, into ``out``."""
    merged = Merged()
    parquet: pq.ParquetWriter | None = None
    try:
        for result in _results(jobs, workers):
            table = _merge(out, result, merged)
            if parquet is None:
                parquet = pq.ParquetWriter(truth_path, table.schema, compression="zstd")
            parquet.write_table(table)
            merged.truth_rows += table.num_rows
            if progress:  # the CLI's chunk bar counts a chunk done at its truth file
                progress(f"truth file (chunk {result.k + 1}/{len(jobs)})", 1, 1)
    finally:
        if parquet is not None:
            parquet.close()
        shutil.rmtree(out / STAGING, ignore_errors=True)
    return merged


def _copy(src: int, dst: int, offset: int, length: int) -> None:
    """``length`` bytes of ``src`` from ``offset`` to ``dst``'s position, in the kernel."""
    end = offset + length
    while offset < end:
        sent = os.sendfile(dst, src, offset, end - offset)
        if sent == 0:
            raise OSError("the staging file ended early")
        offset += sent


def _merge(out: Path, result: ChunkResult, merged: Merged) -> pa.Table:
    """Copy one chunk's files into ``out`` (new or appended to); its truth rows with final
    line numbers."""
    offsets: dict[str, int] = {}
    made: set[Path] = set()
    with (result.stage / "files.bin").open("rb") as blob:
        for rel, parts in sorted(result.parts.items()):
            before = merged.lines.get(rel)
            target = out / rel
            if before is None and target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            # not opened for appending: sendfile refuses an O_APPEND target
            with target.open("wb" if before is None else "r+b") as dst:
                dst.seek(0, os.SEEK_END)
                for n, (offset, length, header) in enumerate(parts):
                    skip = header if (before is not None or n) else 0  # one header a file
                    _copy(blob.fileno(), dst.fileno(), offset + skip, length - skip)
            if before is not None:
                offsets[rel] = before
            merged.lines[rel] = (before or 0) + result.lines.get(rel, 0)
    for key, sections in result.sections.items():
        into = merged.sections.setdefault(key, {})
        for section, value in sections.items():
            into.setdefault(section, value)
    merged.people += result.people
    for stage, seconds in result.stage_seconds.items():
        merged.stage_seconds[stage] = round(merged.stage_seconds.get(stage, 0.0) + seconds, 3)
    # mapped, not copied: the parent stays small (the file may be unlinked while mapped)
    table = feather.read_table(result.stage / "truth.arrow", memory_map=True)
    shutil.rmtree(result.stage, ignore_errors=True)
    if offsets:
        files = table.column("file").combine_chunks().dictionary_encode()
        shift = pa.array([offsets.get(f, 0) for f in files.dictionary.to_pylist()], pa.int32())
        line_no = pc.add(table.column("line_no"), pc.take(shift, files.indices))
        table = table.set_column(table.schema.get_field_index("line_no"), "line_no", line_no)
    return table


__all__ = ["ChunkJob", "ChunkResult", "Merged", "run_chunk", "run_chunks", "share"]
