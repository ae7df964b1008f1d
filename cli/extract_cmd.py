"""CLI commands: ``c2c extract build | decrypt | verify`` (docs/deidentify.md).

``build`` is for operators (reads the encrypted warehouse, writes ``$C2C_HOME/extracts``);
``decrypt`` and ``verify`` also run on a researcher's machine with ``--key-file`` (the data
key the API hands to the request's owner), needing no keyring or warehouse there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from core.errors import C2CError, InputRejected, KeyError_, Location
from core.keys import KeyProvider
from core.requests import ApprovedRequest
from core.settings import Settings, get_settings
from core.warehouse import open_warehouse
from deidentify import build_extract, open_extract, verify_extract

extract_app = typer.Typer(
    help="Research extracts: build (operator), decrypt and verify (operator or owner).",
    no_args_is_help=True,
)


def _provider(settings: Settings) -> KeyProvider:
    return KeyProvider(settings.master_key_path, settings.keyring_path)


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
    keys = _provider(settings)
    from cli.progress import stages
    from governance.db import session_factory
    from governance.extract_registry import individual_extracts

    # No store, or one not migrated, stops here (``c2c migrate``): without it the earlier
    # extracts are unknown, and unknown must never count as "none".
    sessions = session_factory(settings.governance_url)
    try:
        with sessions() as session:
            earlier = individual_extracts(session, excluding=request.request_id)
    finally:
        sessions.kw["bind"].dispose()

    console = Console(soft_wrap=True)
    con = open_warehouse(settings, read_only=True)
    try:
        with stages(console, f"extract for {request.request_id} (select, generalise, "
                             "suppress, scan, encrypt)"):
            result = build_extract(
                con, request, keys, out or settings.extracts_dir, k=settings.k_anonymity,
                now=datetime.now(UTC), earlier_extracts=earlier,
            )
    finally:
        con.close()
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


def _key_source(key_file: Path | None, package: Path) -> tuple[KeyProvider | None, bytes | None]:
    """The extract's key from ``--key-file``, else this deployment's keyring. Without
    ``--key-file`` on a machine whose keyring lacks the package's key (a researcher's), say
    that, rather than let the library report a failed authentication."""
    from deidentify import read_key_file
    from deidentify.package import read_header

    if key_file is not None:
        return None, read_key_file(key_file)
    settings = get_settings()
    provider = _provider(settings)
    try:
        with package.open("rb") as handle:
            request_id = read_header(handle)[0].request_id
    except OSError:
        return provider, None  # the library names the missing file
    except C2CError:
        return provider, None  # a damaged header: the library reports it
    if not settings.master_key_path.exists() or not provider.has_key(f"extract:{request_id}"):
        raise KeyError_(
            f"no --key-file given, and this machine's keyring has no key for request "
            f"{request_id}: save the key the API gives you (GET /v1/requests/{request_id}/"
            "extract/key, as is) and pass it with --key-file")
    return provider, None


@extract_app.command("decrypt")
def decrypt_cmd(
    package: Path = typer.Argument(..., help="The .c2cx package."),
    out: Path = typer.Option(..., "--out", help="Folder for data.parquet, data.csv, manifest."),
    key_file: Path | None = typer.Option(
        None, "--key-file",
        help="The key route's response saved as is (or its base64); default: keyring."),
) -> None:
    """Decrypt a package after authenticating every byte; refuses expired packages."""
    keys, data_key = _key_source(key_file, package)
    opened = open_extract(package, keys=keys, data_key=data_key, now=datetime.now(UTC),
                          out_dir=out)
    console = Console(soft_wrap=True)
    for path in sorted(opened.paths.values()):
        console.print(f"wrote {path}", highlight=False)
    console.print(f"request {opened.request_id}: {opened.manifest.get('rows', '?')} rows; "
                  f"expires {opened.expires_at.isoformat()}", highlight=False)


@extract_app.command("verify")
def verify_cmd(
    package: Path = typer.Argument(..., help="The .c2cx package."),
    key_file: Path | None = typer.Option(
        None, "--key-file", help="The extract's data key; default: keyring."),
) -> None:
    """Authenticate a package and check each file against its manifest (writes nothing)."""
    keys, data_key = _key_source(key_file, package)
    verified = verify_extract(package, keys=keys, data_key=data_key, now=datetime.now(UTC))
    console = Console(soft_wrap=True)
    console.print(f"[green]ok[/]: request {verified.request_id}, created "
                  f"{verified.created_at.isoformat()}, expires {verified.expires_at.isoformat()}"
                  f"{' [yellow](expired)[/]' if verified.expired else ''}", highlight=False)
    for name, digest in sorted(verified.files.items()):
        console.print(f"  {name}: {digest.bytes:,} bytes sha256 {digest.sha256}",
                      highlight=False)
    manifest = verified.manifest
    console.print(f"  rows {manifest.get('rows')}, suppressed {manifest.get('suppressed_rows')}",
                  highlight=False)


@extract_app.command("decryptor")
def decryptor_cmd(
    out: Path = typer.Option(Path("c2c_decrypt.py"), "--out", help="Where to write it."),
) -> None:
    """Write the standalone decryptor a researcher runs without c2c-link installed."""
    from importlib import resources

    source = resources.files("deidentify").joinpath("c2c_decrypt.py").read_bytes()
    out.write_bytes(source)
    Console(soft_wrap=True).print(
        f"wrote {out} ({len(source):,} bytes). A researcher needs Python and `pip install "
        "cryptography`, then: python c2c_decrypt.py EXTRACT.c2cx extract.key OUT_DIR",
        highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``c2c extract ...``."""
    app.add_typer(extract_app, name="extract")
