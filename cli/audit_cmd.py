"""CLI command: ``c2c audit verify`` recomputes the governance audit hash chain."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from core.settings import get_settings
from governance import audit
from governance.anchor import anchor_for, session_info
from governance.db import session_factory

audit_app = typer.Typer(help="Governance audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify_cmd() -> None:
    """Check that no audit entry was edited or deleted. Exit 1 when tampering is found.

    Prints the head hash: record it outside the database to detect a full rewrite later.
    """
    _report(audit.verify)


@audit_app.command("checkpoint")
def checkpoint_cmd() -> None:
    """Verify the chain and anchor its head outside the database (needed once for a store
    that predates anchoring; every audit entry is anchored as it is written after that)."""
    _report(audit.checkpoint)


def _report(check: Callable[[Session], audit.AuditVerification]) -> None:
    console = Console()
    settings = get_settings()
    sessions = session_factory(settings.governance_url, info=session_info(anchor_for(settings)))
    with sessions() as session:
        result = check(session)
    if result.ok:
        console.print(f"[green]audit log intact[/]: {result.entries} entries, "
                      f"head {result.head_seq} {result.head_hash}", highlight=False)
        return
    console.print(f"[bold red]audit log damaged[/]: {len(result.problems)} problem(s), first at "
                  f"entry {result.first_bad_seq}", highlight=False)
    for problem in result.problems:
        console.print(f"  {problem}", highlight=False, markup=False)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
