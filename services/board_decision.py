"""Use case: the governance board decides a request (quorum approves, one denial ends it), and
what a board member reads before deciding. The board API routes and portal pages call these;
each is audited under the member's name."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.partners import Partner
from core.settings import Settings
from governance import output_release
from governance import request_lifecycle as gr
from governance.audit import audited
from governance.models import DataRequest, ExtractRecord
from governance.partners import find_partner
from governance.users import Principal

ROLE = "board"


def waiting_requests(*, session: Session, member: Principal, limit: int | None = None,
                     offset: int = 0) -> list[DataRequest]:
    """Requests waiting for a decision, oldest first (one page when ``limit`` is given;
    audited)."""
    with audited(session, actor=member.name, role=ROLE, action="board.list"):
        requests = gr.list_submitted(session, limit=limit, offset=offset)
    return requests


def decide_request(*, session: Session, settings: Settings, member: Principal,
                   request_id: str, decision: gr.Decision, reason: str) -> DataRequest:
    """One member's decision with a written reason (never on their own request)."""
    with audited(session, actor=member.name, role=ROLE, action=f"board.{decision.value}",
                 target=f"request:{request_id}") as audit:
        request = gr.decide(session, request_id, member.user_id, decision, reason,
                            quorum=settings.board_quorum,
                            default_days=settings.extract_default_days)
        audit["status"] = request.status
    return request


@dataclass
class BoardView:
    """A request as the board reads it: the requester's organisation and earlier requests,
    the extract once built."""

    request: DataRequest
    organisation: Partner | None
    earlier: list[DataRequest]
    extract: ExtractRecord | None


def read_request(*, session: Session, member: Principal, request_id: str) -> BoardView:
    """A submitted (or decided) request with what the board weighs it by (audited)."""
    with audited(session, actor=member.name, role=ROLE, action="board.read",
                 target=f"request:{request_id}"):
        request = gr.get_for_board(session, request_id)
        org_code = request.requester.org_code
        view = BoardView(
            request=request,
            organisation=find_partner(session, org_code) if org_code else None,
            earlier=gr.earlier_requests_of_requester(session, request),
            extract=output_release.extract_record(session, request.id))
    return view
