"""``c2c fulfil``: build the extracts of approved requests without a running Dagster."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from core.settings import get_settings

if TYPE_CHECKING:
    from dagster_project.fulfil import FulfilFailure
    from deidentify import ExtractResult


def fulfil(
    request: list[str] = typer.Option(
        None, "--request", help="Only this request id (repeat for several); default: all."),
) -> None:
    """Build the extract of every request the board approved and that has none yet."""
    from cli.progress import human_bytes
    from dagster_project.fulfil import fulfil_approved

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
        outcome = fulfil_approved(settings, request_ids=request or (), on_built=built,
                                  on_failed=failed)
    if not outcome.built and not outcome.failed:
        console.print("no approved request is waiting for its extract", highlight=False)
        return
    console.print(f"{len(outcome.built)} request(s) fulfilled; each owner can now download the "
                  "package and its key from the API once its output is released; "
                  f"{len(outcome.failed)} failed (marked failed with the reason, shown to the "
                  "researcher and the board)", highlight=False)
    if outcome.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("fulfil")(fulfil)
