"""CLI commands: ``c2c ingest``, ``c2c submissions``, ``c2c release-held``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from core.errors import InputRejected, Location
from core.keys import RAW_STORE_PURPOSE, KeyProvider
from core.partners import Partner
from core.settings import Settings, get_settings
from core.warehouse import open_warehouse as core_open_warehouse
from ingest import IngestOptions, Receipt, ingest_files, release_held
from ingest.partners import load_partners_csv
from ingest.submissions import CSV_COLUMNS, submission_report, write_csv

SHOWN_ERRORS = 5


def open_warehouse(settings: Settings) -> tuple[duckdb.DuckDBPyConnection, bytes]:
    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    return core_open_warehouse(settings), keys.derive(RAW_STORE_PURPOSE)


def load_partner_registry(settings: Settings, registry: Path | None) -> list[Partner]:
    """The partner registry: a CSV when named, else the governance store, else the legacy
    ``$C2C_HOME/partners.csv``."""
    if registry is not None:
        return load_partners_csv(registry)
    from governance.db import session_factory
    from governance.partners import list_partners

    with session_factory(settings.governance_url)() as session:
        partners = list_partners(session)
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
    table = Table(title="Receipts")
    for column in ("status", "file", "type", "partner", "year/period", "rows", "message"):
        table.add_column(column)
    colour = {"accepted": "green", "rejected": "red", "held": "yellow"}
    for r in receipts:
        table.add_row(f"[{colour[str(r.status)]}]{r.status}[/]", r.file_name, r.kind or "",
                      r.partner_org or "", r.period or "", str(r.rows), r.message)
    console.print(table)
    for r in receipts:
        if r.errors:
            console.print(f"[red]{r.file_name}[/]: {r.error_count} error(s)", highlight=False)
            for error in r.errors[:SHOWN_ERRORS]:
                console.print(f"  {error.describe()}", highlight=False, markup=False)
        for warning in r.warnings:
            console.print(f"[yellow]warning[/] {r.file_name}: {warning}", highlight=False)


def ingest_cmd(
    paths: list[Path] = typer.Argument(..., help="Files or folders (walked recursively)."),
    partner_registry: Path | None = typer.Option(
        None, help="Partners CSV (default: the governance store, `c2c partners import`)."),
    column_map: Path | None = typer.Option(
        None, help='JSON: {"college_students": {"Partner Header": "student_id"}}.'),
    json_out: Path | None = typer.Option(None, "--json", help="Also write receipts as JSON."),
) -> None:
    """Receive partner files: raw store, validate, load staging; exit 2 if any file is rejected."""
    settings = get_settings()
    console, err = Console(), Console(stderr=True)
    partners = load_partner_registry(settings, partner_registry)
    options = IngestOptions(column_maps=_column_maps(column_map),
                            on_event=lambda text: err.print(text, highlight=False, markup=False))
    con, raw_key = open_warehouse(settings)
    try:
        receipts = ingest_files(con, paths, settings.raw_dir, raw_key, partners, options=options)
    finally:
        con.close()
    _print_receipts(console, receipts)
    if json_out:
        json_out.write_text(json.dumps([r.model_dump(mode="json") for r in receipts], indent=2),
                            encoding="utf-8")
    rejected = [r for r in receipts if r.rejected]
    held = [r for r in receipts if str(r.status) == "held"]
    console.print(f"{len(receipts) - len(rejected) - len(held)} accepted, {len(held)} held, "
                  f"{len(rejected)} rejected")
    if rejected:
        raise InputRejected(f"{len(rejected)} of {len(receipts)} file(s) rejected; first: "
                            f"{rejected[0].message}")


def release_cmd(
    file_id: list[str] = typer.Option(None, help="Only these file ids (default: all held)."),
    partner_registry: Path | None = typer.Option(None, help="Partners CSV."),
) -> None:
    """Load held files whose partner now has an executed, current agreement."""
    settings = get_settings()
    partners = load_partner_registry(settings, partner_registry)
    con, raw_key = open_warehouse(settings)
    try:
        receipts = release_held(con, settings.raw_dir, raw_key, partners,
                                file_ids=file_id or None)
    finally:
        con.close()
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
    settings = get_settings()
    try:
        on = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError as exc:
        raise InputRejected("--as-of must be a date like 2023-11-01",
                            Location("--as-of", value=as_of, rule="date_iso")) from exc
    partners = load_partner_registry(settings, partner_registry)
    con, _ = open_warehouse(settings)
    try:
        rows = submission_report(con, partners, on)
    finally:
        con.close()
    table = Table(title=f"Submissions as of {on}")
    shown = [c for c in CSV_COLUMNS if c != "Org_Code"]
    for column in shown:
        table.add_column(column)
    for row in rows:
        values = row.as_csv_row()
        table.add_row(*(values[c] for c in shown))
    Console().print(table)
    if csv:
        write_csv(rows, csv)
        Console().print(f"wrote {csv}")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    app.command("submissions")(submissions_cmd)
    app.command("release-held")(release_cmd)
