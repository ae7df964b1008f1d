"""CLI commands: ``c2c submissions`` and ``c2c release-held``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from cli.ingest_cmd import key_provider, load_partner_registry
from cli.receipts_view import print_receipts
from core.errors import InputRejected, Location
from core.settings import get_settings


def release_cmd(
    file_id: list[str] = typer.Option(None, help="Only these file ids (default: all held)."),
    partner_registry: Path | None = typer.Option(None, help="Partners CSV."),
) -> None:
    """Load held files whose partner now has an executed, current agreement."""
    from services.ingest_batch import release_held_files

    settings = get_settings()
    receipts = release_held_files(
        settings=settings, keys=key_provider(settings),
        partners=load_partner_registry(settings, partner_registry), file_ids=file_id or None)
    console = Console()
    if not receipts:
        console.print("no held file can be released (agreements still inactive?)")
        return
    print_receipts(console, receipts)
    if any(r.rejected for r in receipts):
        raise InputRejected("some released files were rejected")


def submissions_cmd(
    csv: Path | None = typer.Option(None, "--csv", help="Also write the report as CSV."),
    as_of: str | None = typer.Option(None, help="Date for deadline status (YYYY-MM-DD)."),
    partner_registry: Path | None = typer.Option(None, help="Partners CSV."),
) -> None:
    """Rows received per partner, academic year and file type; what SWP rounds still need."""
    from cli.submissions_view import print_submissions
    from services.submission_report import report_submissions

    settings = get_settings()
    try:
        on = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError as exc:
        raise InputRejected("--as-of must be a date like 2023-11-01",
                            Location("--as-of", value=as_of, rule="date_iso")) from exc
    rows = report_submissions(settings=settings, as_of=on, csv_path=csv,
                              partners=load_partner_registry(settings, partner_registry))
    print_submissions(Console(), rows, f"Submissions as of {on}")
    if csv:
        Console().print(f"wrote {csv}")


def register(app: typer.Typer) -> None:
    app.command("submissions")(submissions_cmd)
    app.command("release-held")(release_cmd)
