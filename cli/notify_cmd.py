"""``c2c notify send|reminders``: the e-mail outbox (issue 19). Heavy modules load inside the
commands so ``c2c --help`` stays fast."""

from __future__ import annotations

from datetime import date, timedelta

import typer
from rich.console import Console

notify_app = typer.Typer(help="E-mail notifications (off until C2C_SMTP_HOST is set).",
                         no_args_is_help=True)


@notify_app.command("send")
def send_cmd() -> None:
    """Send every pending notification (retries ones that failed before)."""
    from core.settings import get_settings
    from governance.db import session_factory
    from governance.notify import deliver, smtp_config

    settings = get_settings()
    config = smtp_config(settings)
    sent = deliver(session_factory(settings.governance_url), config)
    if config is None:
        Console().print("notifications are off (set C2C_SMTP_HOST); pending messages were "
                        "marked not sent", highlight=False)
    else:
        Console().print(f"sent {sent} notification(s)", highlight=False)


@notify_app.command("reminders")
def reminders_cmd(
    as_of: str = typer.Option(None, help="Day to judge from, YYYY-MM-DD (default today)"),
    days_before: int = typer.Option(30, min=1, max=365,
                                    help="Remind partners whose deadline is this close"),
) -> None:
    """Tell each partner's liaison which files its funding rounds still need, before the
    deadline (1 November for CALPADS), then send."""
    from core.settings import get_settings
    from core.warehouse import open_warehouse
    from governance import notices
    from governance.db import session_factory
    from governance.notify import deliver, smtp_config
    from governance.partners import list_partners
    from ingest.submissions import submission_report

    settings = get_settings()
    today = date.fromisoformat(as_of) if as_of else date.today()
    sessions = session_factory(settings.governance_url)
    with sessions() as session:
        partners = list_partners(session)
    con = open_warehouse(settings)
    try:
        rows = submission_report(con, partners, today)
    finally:
        con.close()
    horizon = today + timedelta(days=days_before)
    due: dict[str, list[str]] = {}
    deadlines: dict[str, date] = {}
    for row in rows:
        if row.missing and row.deadline and today <= row.deadline <= horizon:
            due.setdefault(row.org_code, []).extend(
                f"{row.academic_year} {file_type}" for file_type in row.missing)
            deadlines[row.org_code] = min(row.deadline, deadlines.get(row.org_code, row.deadline))
    queued = 0
    with sessions.begin() as session:
        for org_code, missing in sorted(due.items()):
            queued += notices.missing_files(session, org_code, missing,
                                            deadlines[org_code].isoformat())
    sent = deliver(sessions, smtp_config(settings))
    Console().print(f"{len(due)} partner(s) with files due by {horizon}: {queued} reminder(s) "
                    f"queued, {sent} sent", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
