"""The submissions report on screen: a table on a wide terminal, one line per row otherwise."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ingest.submissions import SubmissionRow

WIDE = 110  # the per-file-type table needs about this many columns


def row_line(row: SubmissionRow) -> str:
    """One row in well under 80 characters (names and per-type counts are in the CSV)."""
    sent = sum(1 for n in row.counts.values() if n)
    rows = sum(row.counts.values())
    rounds = ("round " + ",".join(map(str, row.rounds))) if row.rounds else "no round"
    # Status only where a funding round requires the year; otherwise it is simply what was sent.
    status = row.deadline_status if row.rounds else "not required"
    missing = f", {len(row.missing)} missing" if row.missing else ""
    return (f"{row.org_code} {row.academic_year} {rounds}: {sent}/{len(row.counts)} types, "
            f"{rows:,} rows{missing}; {status}")


def print_submissions(console: Console, rows: list[SubmissionRow], title: str) -> None:
    if not rows:
        console.print(f"{title}: no LEA or COE partner and nothing received", highlight=False)
        return
    if not (console.is_terminal and console.width >= WIDE):
        console.print(title, highlight=False)
        for row in rows:
            console.print(row_line(row), highlight=False, markup=False, soft_wrap=True)
        return
    from core.calpads import FILE_TYPES

    table = Table(title=title)
    for column in ("LEA", "year", *FILE_TYPES, "rounds", "missing", "status"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(row.org_code, row.academic_year,
                      *(f"{row.counts.get(t, 0):,}" for t in FILE_TYPES),
                      ",".join(map(str, row.rounds)) or "-",
                      str(len(row.missing)) if row.missing else "",
                      row.deadline_status if row.rounds else "not required")
    console.print(table)
