"""``c2c id-changes``: the operator's change log of person ids (exact counts, this terminal only).

Partners and researchers see the same log through the egress gate (docs/linkage.md,
"The change log of person ids"); the operator, who runs the link, sees it exact.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def register(app: typer.Typer) -> None:
    @app.command("id-changes")
    def id_changes(
        run_id: str | None = typer.Option(None, "--run-id",
                                          help="Default: the latest succeeded link run."),
        notify: bool = typer.Option(False, "--notify", help="Queue the notes to holders of "
                                    "earlier extracts again (c2c link queues them itself)."),
    ) -> None:
        """Person ids merged, split or retired by a link run and why; per partner (exact)."""
        from core.settings import get_settings
        from governance.db import session_factory
        from services.id_change_log import (
            extracts_not_assessed,
            operator_change_log,
            tell_extract_holders,
        )

        settings = get_settings()
        log = operator_change_log(settings=settings, run_id=run_id)
        console.print(f"[bold]person ids changed by link run {log.run_id}[/] (exact counts: "
                      "the operator's view; partners and researchers get them gated)")
        ids = Table("event", "reason", "person ids", title="ids (mdm.person_lineage)")
        for event, reasons in log.ids.items():
            for reason, n in reasons.items():
                ids.add_row(event, reason, f"{n:,}")
        console.print(ids)
        units = Table("event", "reason", "records", title="records whose id changed "
                      "(mdm.id_changes)")
        for event, reasons in log.units.items():
            for reason, n in reasons.items():
                units.add_row(event, reason, f"{n:,}")
        console.print(units if log.units else "no record's id changed")
        partners = Table("partner", "merged", "split", "moved", "withdrawn",
                         title="records whose id changed, per partner")
        for org, events in log.by_partner.items():
            partners.add_row(org, *(f"{events.get(e, 0):,}"
                                    for e in ("merged", "split", "moved", "withdrawn")))
        if log.by_partner:
            console.print(partners)

        def sessions():  # type: ignore[no-untyped-def]
            return session_factory(settings.governance_url)

        if notify:
            notes = tell_extract_holders(settings=settings, sessions=sessions,
                                         run_id=log.run_id)
            console.print(f"notes queued to holders of {len(notes)} extract(s): "
                          f"{', '.join(n.request_id for n in notes) or '-'}")
        try:
            unknown = extracts_not_assessed(settings=settings, sessions=sessions())
        except Exception as exc:  # noqa: BLE001 - no governance store: nothing to list
            console.print(f"extracts not assessed: governance store not readable ({exc})")
        else:
            if unknown:
                console.print(f"extracts built before their people were recorded (no note "
                              f"can say whether their ids changed): {', '.join(unknown)}")
