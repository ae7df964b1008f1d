"""CLI commands: ``c2c ingest``, ``c2c submissions``, ``c2c release-held``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from core.errors import InputRejected, Location
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from core.keys import KeyProvider
    from core.partners import Partner
    from ingest import Receipt

SHOWN_ERRORS = 5
WIDE = 110  # narrower consoles and logs get one line per receipt or row instead of a table
NOT_PARTNER_FILES = {
    "partners.csv": "the partner registry, not partner data (load it with `c2c partners "
                    "import`)",
    "truth.parquet": "the generator's answer key, not partner data (use it with `c2c evaluate "
                     "--truth`)",
}


def key_provider(settings: Settings) -> KeyProvider:
    from core.keys import KeyProvider

    return KeyProvider(settings.master_key_path, settings.keyring_path)


def load_partner_registry(settings: Settings, registry: Path | None) -> list[Partner]:
    """The partner registry: a CSV when named, else the governance store, else the legacy
    ``$C2C_HOME/partners.csv``."""
    from ingest.partners import load_partners_csv

    if registry is not None:
        return load_partners_csv(registry)
    from governance.db import session_factory
    from services.ingest_batch import registered_partners

    partners = registered_partners(sessions=session_factory(settings.governance_url))
    legacy = settings.resolved_home / "partners.csv"
    if not partners and legacy.exists():
        return load_partners_csv(legacy)
    return partners


def _column_maps(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputRejected(f"column map is not readable JSON: {exc}",
                            Location(str(path), rule="column_map")) from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputRejected('column map must look like {"college_students": {"StuID": '
                            '"student_id"}}', Location(str(path), rule="column_map"))
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items()}


def _print_receipts(console: Console, receipts: list[Receipt]) -> None:
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


def partner_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Files to ingest, and the generator's side files that are not partner data: a
    ``partners.csv`` (the registry) or ``truth.parquet`` (the answer key) at the top of a
    folder given on the command line. A file named explicitly is always ingested."""
    from ingest.pipeline import expand_paths

    keep: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        found = expand_paths([path])
        for f in found:
            side = path.is_dir() and f.parent == path and f.name in NOT_PARTNER_FILES
            (skipped if side else keep).append(f)
    return keep, skipped


def ingest_cmd(
    paths: list[Path] = typer.Argument(..., help="Files or folders (walked recursively)."),
    partner_registry: Path | None = typer.Option(
        None, help="Partners CSV (default: the governance store, `c2c partners import`)."),
    column_map: Path | None = typer.Option(
        None, help='JSON: {"college_students": {"Partner Header": "student_id"}}.'),
    json_out: Path | None = typer.Option(None, "--json", help="Also write receipts as JSON."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also log each step of each file to stderr."),
) -> None:
    """Receive partner files: raw store, validate, load staging; exit 2 if any file is rejected."""
    from cli.progress import steps
    from ingest import IngestOptions
    from services.ingest_batch import ingest_batch

    settings = get_settings()
    console = Console()
    files, skipped = partner_files(paths)
    for path in skipped:
        console.print(f"skipped {path}: {NOT_PARTNER_FILES[path.name]}", highlight=False,
                      markup=False, soft_wrap=True)
    partners = load_partner_registry(settings, partner_registry)
    err = Console(stderr=True)
    options = IngestOptions(
        column_maps=_column_maps(column_map),
        on_event=(lambda text: err.print(text, highlight=False, markup=False)) if verbose
        else None)
    sizes = {f: f.stat().st_size for f in files}
    with steps(console, "ingest files", len(files), sum(sizes.values())) as progress:
        receipts = ingest_batch(
            settings=settings, keys=key_provider(settings), partners=partners, paths=files,
            options=options, on_file=lambda path: progress.advance(sizes[path], path.name))
    _print_receipts(console, receipts)
    if json_out:
        json_out.write_text(json.dumps([r.model_dump(mode="json") for r in receipts], indent=2),
                            encoding="utf-8")
    rejected = [r for r in receipts if r.rejected]
    held = [r for r in receipts if str(r.status) == "held"]
    console.print(f"{len(receipts) - len(rejected) - len(held)} accepted, {len(held)} held, "
                  f"{len(rejected)} rejected" + (" (held files are stored, not loaded)"
                                                 if held else ""), highlight=False)
    if rejected:
        raise InputRejected(f"{len(rejected)} of {len(receipts)} file(s) rejected; first: "
                            f"{rejected[0].message}")


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
    _print_receipts(console, receipts)
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
    app.command("ingest")(ingest_cmd)
    app.command("submissions")(submissions_cmd)
    app.command("release-held")(release_cmd)
