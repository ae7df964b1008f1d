"""CLI commands: ``c2c extract decrypt | verify`` (docs/deidentify.md). They also run on a
researcher's machine with ``--key-file`` (the age key file the API hands to the request's
owner), needing no keyring or warehouse there; the standard ``age`` tool opens the same
package without c2c-link (docs/deidentify.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

from cli.extract_app import extract_app, key_provider
from core.errors import KeyError_
from core.keys import KeyProvider
from core.settings import get_settings
from deidentify import open_extract, verify_extract


def _key_source(key_file: Path | None, package: Path) -> tuple[KeyProvider | None, bytes | None]:
    """The extract's key from ``--key-file``, else this deployment's keyring. Without
    ``--key-file`` on a machine whose keyring lacks the package's key (a researcher's), say
    that, rather than let the library report a failed decryption."""
    from deidentify import read_key_file
    from deidentify.contents import request_of_package

    if key_file is not None:
        return None, read_key_file(key_file)
    settings = get_settings()
    provider = key_provider(settings)
    request_id = request_of_package(package.name)
    if request_id is None:
        return provider, None  # the library says the name must carry the request id
    if not settings.master_key_path.exists() or not provider.has_key(f"extract:{request_id}"):
        raise KeyError_(
            f"no --key-file given, and this machine's keyring has no key for request "
            f"{request_id}: save the key the API gives you (GET /v1/requests/{request_id}/"
            "extract/key.txt) and pass it with --key-file (or open the package with "
            f"age -d -i KEY_FILE {package.name} | tar -x)")
    return provider, None


@extract_app.command("decrypt")
def decrypt_cmd(
    package: Path = typer.Argument(..., help="The .tar.age package."),
    out: Path = typer.Option(..., "--out", help="Folder for data.parquet, data.csv, manifest."),
    key_file: Path | None = typer.Option(
        None, "--key-file",
        help="The age key file the portal or the API's key route gives; default: keyring."),
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
    package: Path = typer.Argument(..., help="The .tar.age package."),
    key_file: Path | None = typer.Option(
        None, "--key-file", help="The age key file; default: keyring."),
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
