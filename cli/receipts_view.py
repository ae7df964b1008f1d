"""Receipts as the operator reads them (``c2c ingest``, ``c2c release-held``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ingest import Receipt

SHOWN_ERRORS = 5
WIDE = 110  # narrower consoles and logs get one line per receipt or row instead of a table


def print_receipts(console: Console, receipts: list[Receipt]) -> None:
    """A table on a wide terminal; one line per receipt otherwise (an 80-column log)."""
    colour = {"accepted": "green", "rejected": "red", "held": "yellow"}
    if console.is_terminal and console.width >= WIDE:
        table = Table(title="Receipts")
        for column in ("status", "file", "type", "partner", "year/period", "rows", "message"):
            table.add_column(column)
        for r in receipts:
            table.add_row(f"[{colour[str(r.status)]}]{r.status}[/]", r.file_name, r.kind or "",
                          r.partner_org or "", r.period or "", f"{r.rows:,}", r.message)
        console.print(table)
    else:
        for r in receipts:
            what = " ".join(x for x in (r.kind, r.partner_org, r.period) if x)
            console.print(f"{str(r.status):8} {r.file_name} ({what or 'unidentified'}): "
                          f"{r.rows:,} rows" + (f"; {r.message}" if r.message and
                                                 str(r.status) != "accepted" else ""),
                          highlight=False, markup=False, soft_wrap=True)
    for r in receipts:
        if r.errors:
            console.print(f"[red]{r.file_name}[/]: {r.error_count} error(s)", highlight=False)
            for error in r.errors[:SHOWN_ERRORS]:
                console.print(f"  {error.describe()}", highlight=False, markup=False)
        for warning in r.warnings:
            console.print(f"[yellow]warning[/] {r.file_name}: {warning}", highlight=False)
    held = [r for r in receipts if str(r.status) == "held"]
    if held:
        console.print(f"[yellow]{len(held)} file(s) HELD, not loaded[/]: stored encrypted, "
                      "loaded by `c2c release-held` once the partner's agreement is active",
                      highlight=False)
        for r in held:
            console.print(f"  held {r.file_name}: {r.message}", highlight=False, markup=False)
