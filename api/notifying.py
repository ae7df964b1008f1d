"""Send queued notifications after the response (``services.notifications``; governance.notify
keeps them in an outbox)."""

from __future__ import annotations

from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from api.deps import get_services
from core.settings import Settings
from services.notifications import send_pending


def deliver_later(background: BackgroundTasks, sessions: sessionmaker[Session],
                  settings: Settings, *, done: Session) -> None:
    """Send every pending message after this response: a slow or absent mail server never
    delays or fails the action that caused the message.

    ``done`` is the caller's write session, finished with: its transaction ends here. The use
    case committed already, but reading the answer afterwards opens a new (write-locking)
    transaction that would last until the session closes, which is after the delivery runs
    and needs that lock. Call this last, after the answer is built."""
    done.commit()
    background.add_task(send_pending, settings=settings, sessions=sessions)


class Outbox:
    """The notifications an action queued, sent after its response: one dependency for every
    route and page that decides something (``deliver_later``)."""

    def __init__(self, background: BackgroundTasks, sessions: sessionmaker[Session],
                 settings: Settings) -> None:
        self._background, self._sessions, self._settings = background, sessions, settings

    def send_after(self, done: Session) -> None:
        """Call last, after the answer is built (see ``deliver_later``)."""
        deliver_later(self._background, self._sessions, self._settings, done=done)


def outbox(request: Request, background: BackgroundTasks) -> Outbox:
    svc = get_services(request)
    return Outbox(background, svc.sessions, svc.settings)


OutboxDep = Annotated[Outbox, Depends(outbox)]
