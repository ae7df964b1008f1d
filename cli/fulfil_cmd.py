"""``c2c fulfil``: build the extracts of approved requests without a running Dagster."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from core.settings import get_settings

if TYPE_CHECKING:
    from deidentify import ExtractResult
    from services.fulfil import FulfilFailure


def fulfil(
    request: list[str] = typer.Option(
        None, "--request", help="Only this request id (repeat for several); default: all."),
) -> None:
    """Build the extract of every request the board approved and that has none yet.

    A request that cannot be built is marked failed with its reason; the others are built
    (exit 1 when any failed)."""
    from cli.progress import human_bytes
    from core.keys import KeyProvider
    from governance.db import session_factory
    from services.fulfil import fulfil_approved

    console = Console()
    settings = get_settings()

    def built(r: ExtractResult) -> None:
        console.print(
            f"built {r.request_id}: {human_bytes(r.package_bytes)}, expires "
            f"{r.expires_at:%Y-%m-%d} -> {r.package_path}", highlight=False, markup=False,
            soft_wrap=True)

    def failed(f: FulfilFailure) -> None:
        console.print(f"failed {f.request_id}: {f.reason}", highlight=False, markup=False,
                      soft_wrap=True)

    with console.status("building extracts of approved requests ..."):
        outcome = fulfil_approved(
            settings=settings, sessions=session_factory(settings.governance_url),
            keys=KeyProvider(settings.master_key_path, settings.keyring_path),
            request_ids=request or (), on_built=built, on_failed=failed)
    if not outcome.built and not outcome.failed:
        console.print("no approved request is waiting for its extract", highlight=False)
        return
    failed_note = (f"; {len(outcome.failed)} failed (marked failed with the reason, shown to "
                   "the researcher and the board)" if outcome.failed else "")
    console.print(f"{len(outcome.built)} request(s) fulfilled; their output goes to the output "
                  f"checkers{failed_note}", highlight=False)
    if outcome.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("fulfil")(fulfil)
