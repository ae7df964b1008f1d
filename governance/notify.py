"""E-mail notifications through an outbox.

An action that should tell someone adds a row to ``notifications`` in the same transaction
(``queue``), so a rolled-back action never mails; ``deliver`` sends what is pending over SMTP
after the commit and records failures without losing the message (the next ``deliver``, or
``c2c notify send``, retries). Notifications are off unless ``C2C_SMTP_HOST`` is set.

Messages name requests, files and organisations, never a student: no identifier is in any
governance-store value they are made from.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.emails import email_problem
from core.settings import Settings
from governance.models import Notification, PartnerRow, User, utcnow

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 10.0


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """The SMTP settings, or None while notifications are off (no ``C2C_SMTP_HOST``)."""
    if not settings.smtp_host:
        return None
    return SmtpConfig(host=settings.smtp_host, port=settings.smtp_port,
                      sender=settings.smtp_sender, starttls=settings.smtp_starttls,
                      username=settings.smtp_username, password=settings.smtp_password)


def looks_like_address(value: str | None) -> bool:
    """One plain address (core.emails): a quoted local part, NUL or line break never reaches
    an SMTP envelope, whatever was stored before addresses were checked."""
    return bool(value) and email_problem(str(value)) is None


def queue(session: Session, to: Iterable[str | None], subject: str, body: str,
          event: str) -> int:
    """Add one message per distinct address; addresses that are not plain e-mail addresses
    (a liaison recorded as a name or phone number) are skipped."""
    sent_to = sorted({a.strip() for a in to if a and looks_like_address(a.strip())})
    for address in sent_to:
        session.add(Notification(to_addr=address, subject=subject[:300], body=body,
                                 event=event, attempts=0))
    session.flush()
    return len(sent_to)


def users_with_role(session: Session, role: str, org_code: str | None = None) -> list[User]:
    users = session.execute(select(User).where(User.active.is_(True))).scalars()
    return [u for u in users if role in u.roles and (org_code is None or u.org_code == org_code)]


def emails(users: Iterable[User]) -> list[str | None]:
    return [u.email for u in users]


def liaison_of(session: Session, org_code: str) -> list[str | None]:
    partner = session.get(PartnerRow, org_code)
    if partner is None:
        return []
    return [partner.liaison_contact, *emails(users_with_role(session, "partner", org_code))]


def _send_one(config: SmtpConfig, message: Notification) -> None:
    email = EmailMessage()
    email["From"] = config.sender
    email["To"] = message.to_addr
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds) as smtp:
        if config.starttls:
            smtp.starttls()
        if config.username:
            smtp.login(config.username, config.password or "")
        smtp.send_message(email)


def deliver(sessions: Callable[[], AbstractContextManager[Session]],
            config: SmtpConfig | None) -> int:
    """Send every pending message; returns how many went out. With notifications off
    (``config`` None) pending messages are marked not sent, so turning mail on later never
    sends stale news; the outbox still shows what would have gone to whom."""
    sent = 0
    with sessions() as session:
        pending = list(session.execute(
            select(Notification).where(Notification.sent_at.is_(None),
                                       Notification.attempts < MAX_ATTEMPTS)
            .order_by(Notification.id)).scalars())
        if config is None:
            for message in pending:
                message.attempts = MAX_ATTEMPTS
                message.last_error = "notifications off"
            session.commit()
            return 0
        for message in pending:
            message.attempts += 1
            try:
                _send_one(config, message)
            except (OSError, smtplib.SMTPException) as exc:
                # The class name only: an SMTP reply can echo the address back.
                message.last_error = type(exc).__name__
            else:
                message.sent_at = utcnow()
                message.last_error = None
                sent += 1
            session.commit()
    return sent
