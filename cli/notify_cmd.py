"""``c2c notify send|reminders``: the e-mail outbox (issue 19). Heavy modules load inside the
commands so ``c2c --help`` stays fast."""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console

notify_app = typer.Typer(help="E-mail notifications (off until C2C_SMTP_HOST is set).",
                         no_args_is_help=True)


@notify_app.command("send")
def send_cmd() -> None:
    """Send every pending notification (retries ones that failed before)."""
    from core.settings import get_settings
    from governance.db import session_factory
    from services.notifications import mail_enabled, send_pending

    settings = get_settings()
    sent = send_pending(settings=settings, sessions=session_factory(settings.governance_url))
    if not mail_enabled(settings):
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
    from governance.db import session_factory
    from services.notifications import remind_missing_files

    settings = get_settings()
    today = date.fromisoformat(as_of) if as_of else date.today()
    done = remind_missing_files(settings=settings,
                                sessions=session_factory(settings.governance_url),
                                today=today, days_before=days_before)
    Console().print(f"{done.partners} partner(s) with files due by {done.horizon}: "
                    f"{done.queued} reminder(s) queued, {done.sent} sent", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
