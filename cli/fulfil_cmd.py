"""``c2c fulfil``: build the extracts of approved requests without a running Dagster."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from core.settings import get_settings

if TYPE_CHECKING:
    from deidentify import ExtractResult


def fulfil(
    request: list[str] = typer.Option(
        None, "--request", help="Only this request id (repeat for several); default: all."),
) -> None:
    """Build the extract of every request the board approved and that has none yet."""
    from cli.progress import human_bytes
    from core.keys import KeyProvider
    from governance.db import session_factory
    from services.fulfil import fulfil_approved

    console = Console()
    settings = get_settings()

    def built(r: ExtractResult) -> None:
        console.print(
            f"built {r.request_id}: {r.rows:,} rows ({r.suppressed_rows:,} suppressed), "
            f"{human_bytes(r.package_bytes)}, expires {r.expires_at:%Y-%m-%d} -> "
            f"{r.package_path}", highlight=False, markup=False, soft_wrap=True)

    with console.status("building extracts of approved requests ..."):
        results = fulfil_approved(
            settings=settings, sessions=session_factory(settings.governance_url),
            keys=KeyProvider(settings.master_key_path, settings.keyring_path),
            request_ids=request or (), on_built=built)
    if not results:
        console.print("no approved request is waiting for its extract", highlight=False)
        return
    console.print(f"{len(results)} request(s) fulfilled; each owner can now download the "
                  "package and its key from the API", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("fulfil")(fulfil)
