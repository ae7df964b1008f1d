"""CLI command: ``c2c ingest`` (``c2c submissions`` and ``c2c release-held`` are
``cli.submissions_cmd``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from cli.receipts_view import print_receipts
from core.errors import InputRejected, Location
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from core.keys import KeyProvider
    from core.partners import Partner

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
    """The partner registry: a CSV when named, else the governance store (``c2c partners
    import``)."""
    from ingest.partners_csv import load_partners_csv

    if registry is not None:
        return load_partners_csv(registry)
    from governance.db import session_factory
    from services.ingest_batch import registered_partners

    # Read only: a busy governance store (a long write elsewhere) never stalls an ingest.
    return registered_partners(sessions=session_factory(settings.governance_url,
                                                        read_only=True))


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
    print_receipts(console, receipts)
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


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
