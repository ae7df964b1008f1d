"""Form fields the portal's pages share, bounded so no form field reaches a service unchecked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form

from core.protection import MAX_TEXT, MIN_REASON

# The session's token every state-changing form posts (checked by ``api.portal.csrf``).
CsrfToken = Annotated[str | None, Form(max_length=100)]
# A written reason (a decision, an objection): required, as long as the API allows.
Reason = Annotated[str, Form(min_length=MIN_REASON, max_length=MAX_TEXT)]
Texts = Annotated[list[str], Form(max_length=64)]
Action = Annotated[str, Form(max_length=20)]
