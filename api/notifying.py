"""Send queued notifications after the response (governance.notify keeps them in an outbox)."""

from __future__ import annotations

from fastapi import BackgroundTasks
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from governance.notify import deliver, smtp_config


def deliver_later(background: BackgroundTasks, sessions: sessionmaker[Session],
                  settings: Settings) -> None:
    """Send every pending message after this response: a slow or absent mail server never
    delays or fails the action that caused the message."""
    background.add_task(deliver, sessions, smtp_config(settings))
