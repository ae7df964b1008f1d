"""K12 Strong Workforce Program funding rounds: which academic years and CALPADS file types
each round needs, and the deadline. Data in ``core/data/swp_rounds.csv``; the submissions
report (ingest) and the synthetic partner registry (synth) both read it from here."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Round:
    number: int
    years: tuple[str, ...]
    deadline_month_day: tuple[int, int]
    file_types: tuple[str, ...]


def _years(first: str, last: str) -> tuple[str, ...]:
    start, end = int(first[:4]), int(last[:4])
    return tuple(f"{y}-{str(y + 1)[-2:]}" for y in range(start, end + 1))


def load_rounds(path: Path | None = None) -> dict[int, Round]:
    """The rounds table (the packaged ``swp_rounds.csv`` unless another file is given)."""
    text = (path.read_text(encoding="utf-8") if path else
            resources.files("core").joinpath("data/swp_rounds.csv").read_text(encoding="utf-8"))
    rounds = {}
    for rec in csv.DictReader(text.splitlines()):
        month, day = (int(x) for x in rec["deadline_month_day"].split("-"))
        rounds[int(rec["round"])] = Round(
            int(rec["round"]), _years(rec["first_year"], rec["last_year"]), (month, day),
            tuple(t for t in rec["file_types"].split(";") if t),
        )
    return rounds


def rounds_within(years: Iterable[str]) -> list[int]:
    """Rounds every one of whose years is among ``years`` (a partner in such a round can have
    sent everything the round needs)."""
    have = set(years)
    return [n for n, r in sorted(load_rounds().items()) if set(r.years) <= have]
