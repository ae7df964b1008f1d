"""Progress for long steps: a live bar on a terminal, one summary line in a log.

A log (stdout not a terminal) gets no bars and no per-step lines, only what ``done`` prints,
so a cron mail or CI log stays readable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


@dataclass
class Steps:
    """Counts N of M items (and their bytes) for one long step."""

    console: Console
    label: str
    total: int
    total_bytes: int = 0
    done: int = 0
    done_bytes: int = 0
    started: float = field(default_factory=time.perf_counter)
    _progress: Any = None
    _task: Any = None

    def advance(self, n_bytes: int = 0, now_doing: str = "") -> None:
        self.done += 1
        self.done_bytes += n_bytes
        if self._progress is not None:
            self._progress.update(self._task, advance=n_bytes if self.total_bytes else 1,
                                  description=f"{self.label} {self.done}/{self.total}",
                                  now=now_doing[:40])

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def summary(self) -> str:
        size = f", {human_bytes(self.done_bytes)}" if self.total_bytes else ""
        return f"{self.label}: {self.done} of {self.total}{size} in {self.seconds:.1f} s"


@contextmanager
def steps(console: Console, label: str, total: int, total_bytes: int = 0) -> Iterator[Steps]:
    """``with steps(console, "ingest", len(files), sum(sizes)) as s: ... s.advance(size)``."""
    tracker = Steps(console, label, total, total_bytes)
    if console.is_terminal and total > 0:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        amount = DownloadColumn() if total_bytes else MofNCompleteColumn()
        with Progress(TextColumn("{task.description}"), BarColumn(), amount,
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                      TextColumn("{task.fields[now]}"), console=console,
                      transient=True) as progress:
            tracker._progress = progress
            tracker._task = progress.add_task(f"{label} 0/{total}",
                                              total=total_bytes or total, now="")
            yield tracker
    else:
        yield tracker
    console.print(tracker.summary(), highlight=False, markup=False, soft_wrap=True)


@contextmanager
def stages(console: Console, label: str) -> Iterator[Any]:
    """For a library call that reports named stages: a spinner naming the last finished stage
    on a terminal; always one line at the end listing each stage's seconds."""
    finished: list[tuple[str, float]] = []
    started = time.perf_counter()
    status = console.status(f"{label} ...") if console.is_terminal else None

    def on_stage(name: str, seconds: float) -> None:
        finished.append((name, seconds))
        if status is not None:
            status.update(f"{label}: {name} done ({seconds:.1f} s), next stage ...")

    if status is not None:
        with status:
            yield on_stage
    else:
        yield on_stage
    laps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in finished)
    console.print(f"{label} in {time.perf_counter() - started:.1f} s"
                  + (f" ({laps})" if laps else ""), highlight=False, markup=False,
                  soft_wrap=True)
