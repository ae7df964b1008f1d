"""Use case: decide a clerical review (a reviewer settles a pair the link was unsure about;
the next link run uses the decision as a label), and read the queue. ``c2c review list |
decide`` call these.

Anyone may see the queue with only which fields agree; names, birth dates and SSIDs only a
governance user holding the ``reviewer`` role sees, and every such viewing and every decision
is written to the hash-chained audit log. A key without the role is refused, and the refusal
is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.errors import PermissionDenied
from core.settings import Settings
from core.tables import QUALITY_SAMPLE, REVIEW_QUEUE
from core.warehouse import warehouse
from governance import audit
from governance.users import Principal, Role, authenticate
from linkage import record_review_decision
from linkage.quality import latest_sampled_run, sample_pairs
from linkage.review import queue_size, queued_pairs

ROLE = "reviewer"


def reviewer(session: Session, token: str) -> Principal:
    """The principal behind ``token`` if it holds the reviewer role; audited refusal if not."""
    principal = authenticate(session, token)
    if Role.REVIEWER not in principal.roles:
        audit.append(session, actor=principal.name, role=",".join(sorted(principal.roles)),
                     action="review.identities", outcome="denied")
        session.commit()
        raise PermissionDenied(f"user {principal.name} lacks the reviewer role "
                               "(`c2c users create NAME --role reviewer`)")
    return principal


@dataclass
class ReviewQueue:
    """The most uncertain pairs, the queue's size, and who was shown the identities (None:
    field agreement only)."""

    pairs: list[dict[str, Any]]
    count: int
    shown_to: str | None


def review_queue(*, settings: Settings, sessions: sessionmaker[Session], limit: int,
                 token: str | None = None, sample: bool = False) -> ReviewQueue:
    """The queue; with a reviewer's ``token`` the viewing of identities is audited.
    ``sample``: the undecided pairs of the latest link run's clerical quality sample instead
    (decided the same way; linkage/quality.py estimates precision and recall from them)."""
    with warehouse(settings, read_only=not sample) as con:
        if sample:
            run = latest_sampled_run(con)
            pairs = queued_pairs(con, limit, sample_run=run)
            count = len(sample_pairs(con, run))
        else:
            pairs = queued_pairs(con, limit)
            count = queue_size(con)
    shown_to = None
    if token is not None:
        with sessions() as session:
            principal = reviewer(session, token)
            audit.append(session, actor=principal.name, role=ROLE, action="review.identities",
                         target=QUALITY_SAMPLE if sample else REVIEW_QUEUE,
                         detail={"pairs": [p["pair_id"] for p in pairs]})
            session.commit()
            shown_to = principal.name
    return ReviewQueue(pairs=pairs, count=count, shown_to=shown_to)


def decide_pair(*, settings: Settings, sessions: sessionmaker[Session], token: str,
                pair_id: str, decision: str) -> Principal:
    """Record the reviewer's decision on a pair (audited); returns the reviewer."""
    with sessions() as session:
        principal = reviewer(session, token)
        with warehouse(settings) as con:
            record_review_decision(con, pair_id, decision, principal.name)
        audit.append(session, actor=principal.name, role=ROLE, action="review.decide",
                     target=f"pair:{pair_id}", detail={"decision": decision})
        session.commit()
    return principal
