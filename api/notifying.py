"""Send queued notifications after the response (governance.notify keeps them in an outbox)."""

from __future__ import annotations

from fastapi import BackgroundTasks, Request

from governance.notify import deliver, smtp_config


def deliver_later(background: BackgroundTasks, request: Request) -> None:
    """Queue a send of every pending message for after this response: a slow or absent mail
    server never delays or fails the action that caused the message."""
    state = request.app.state
    background.add_task(deliver, state.sessions, smtp_config(state.settings))
