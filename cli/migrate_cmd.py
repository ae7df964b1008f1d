"""CLI command: ``c2c migrate`` brings the governance store's schema to this version's.

The one place migrations run (besides test set-up): the API, the CLI and Dagster only check
the revision and name this command when the store is behind.
"""

from __future__ import annotations

import typer
from rich.console import Console

from core.settings import get_settings
from governance.db import current_revision, head_revision, make_engine, upgrade


def migrate() -> None:
    """Apply pending governance-store migrations (idempotent; run after each upgrade)."""
    settings = get_settings()
    engine = make_engine(settings.governance_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        message = f"governance store already at revision {after}"
    else:
        message = f"governance store migrated from {before or 'empty'} to {after}"
    Console().print(message, highlight=False)
    if after != head_revision():  # pragma: no cover - upgrade() reaches head or raises
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
