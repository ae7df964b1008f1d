"""CLI commands: ``c2c extract build`` (docs/deidentify.md); ``decrypt``, ``verify`` and
``decryptor`` are ``cli.extract_open_cmd``.

``build`` is for operators (reads the encrypted warehouse, writes ``$C2C_HOME/extracts``);
``decrypt`` and ``verify`` also run on a researcher's machine with ``--key-file`` (the age key
file the API hands to the request's owner), needing no keyring or warehouse there; the standard
``age`` tool opens the same package without c2c-link (docs/deidentify.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from cli.extract_app import extract_app, key_provider
from core.errors import InputRejected, Location
from core.requests import ApprovedRequest
from core.settings import get_settings


def load_request(path: Path) -> ApprovedRequest:
    """An ApprovedRequest from JSON, with errors that name the file and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputRejected(f"cannot read request file: {exc.strerror}",
                            Location(str(path))) from None
    try:
        return ApprovedRequest.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        line = None
        if first["type"] == "json_invalid":
            try:
                json.loads(text)
            except json.JSONDecodeError as decode_error:
                line = decode_error.lineno
        raise InputRejected(
            f"not an approved request: {first['msg']} ({exc.error_count()} problem(s))",
            Location(str(path), line=line, field=field, rule="core.requests.ApprovedRequest"),
        ) from None


@extract_app.command("build")
def build_cmd(
    request_file: Path = typer.Option(..., "--request", help="ApprovedRequest as JSON."),
    out: Path | None = typer.Option(None, help="Output folder (default $C2C_HOME/extracts)."),
) -> None:
    """Build the encrypted extract for an approved individual-level request (kept unlinkable
    to every earlier individual-level extract the governance store knows of)."""
    settings = get_settings()
    request = load_request(request_file)
    keys = key_provider(settings)
    from cli.progress import stages
    from services.extract_build import build_one_extract

    console = Console(soft_wrap=True)
    with stages(console, f"extract for {request.request_id} (select, generalise, "
                         "suppress, scan, encrypt)"):
        result = build_one_extract(settings=settings, keys=keys, request=request, out=out)
    console.print(f"extract {result.package_path} ({result.package_bytes:,} bytes, "
                  f"sha256 {result.package_sha256})", highlight=False)
    console.print(f"rows released {result.rows:,}, suppressed {result.suppressed_rows:,}; "
                  f"expires {result.expires_at.isoformat()}", highlight=False)
    if result.disclosure is not None:
        general = ", ".join(f"{q} -> {rung}" for q, rung in
                            result.disclosure.generalisations.items())
        console.print(f"k={result.disclosure.k} over: {general or 'no quasi-identifiers'}",
                      highlight=False)
        cross = result.disclosure.cross_extract
        console.print(f"earlier extracts considered {len(cross['earlier_requests'])}; shared "
                      f"variables: {', '.join(cross['linkage_variables']) or 'none'} "
                      f"({cross['suppressed_rows']:,} rows suppressed for them)",
                      highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``c2c extract ...`` (decrypt, verify and decryptor live in ``cli.extract_open_cmd``)."""
    import cli.extract_open_cmd  # noqa: F401  (its commands join extract_app)

    app.add_typer(extract_app, name="extract")
