"""Use case: send the e-mail outbox, and remind partners of files due (``c2c notify``, the API
after an action, the demo's build loop).

``governance.notify`` keeps the outbox; delivery needs ``C2C_SMTP_HOST`` (or ``C2C_MAIL_DIR``),
otherwise pending messages are marked not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.warehouse import open_warehouse
from governance import notices
from governance.notify import deliver, smtp_config
from governance.partners import list_partners
from ingest.submissions import submission_report


def mail_enabled(settings: Settings) -> bool:
    """Whether delivery has a mail server or folder to send to."""
    return smtp_config(settings) is not None


def send_pending(*, settings: Settings, sessions: sessionmaker[Session]) -> int:
    """Send every pending notification (retrying ones that failed before); how many went."""
    return deliver(sessions, smtp_config(settings))


@dataclass(frozen=True)
class Reminders:
    horizon: date
    partners: int
    queued: int
    sent: int


def remind_missing_files(*, settings: Settings, sessions: sessionmaker[Session], today: date,
                         days_before: int) -> Reminders:
    """Queue a reminder to each partner's liaison naming the files its funding rounds still
    need, when the deadline is within ``days_before`` days of ``today``; then send."""
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
    sent = send_pending(settings=settings, sessions=sessions)
    return Reminders(horizon=horizon, partners=len(due), queued=queued, sent=sent)
