"""Use case: a researcher's data request, from draft to download (the researcher API routes
and portal pages call these; each is audited under the researcher's name).

The board's decision is :mod:`services.board_decision`; the preview :mod:`services.preview`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from core.errors import InternalError
from core.keys import KeyProvider
from core.settings import Settings
from governance import output_release
from governance import request_lifecycle as gr
from governance.audit import audited
from governance.extract_registry import extract_for_download
from governance.models import DataRequest, ExtractRecord
from governance.output_release import Release
from governance.request_inputs import RequestInput
from governance.users import Principal
from services.choices import Choices, check_cohort

ROLE = "researcher"


def own_requests(*, session: Session, researcher: Principal) -> list[DataRequest]:
    """The researcher's own requests (audited)."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.list"):
        requests = gr.list_own_requests(session, researcher.user_id)
    return requests


def own_request(*, session: Session, researcher: Principal, request_id: str) -> DataRequest:
    """One of the researcher's requests; another's answers 404 like a missing one (audited)."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.read",
                 target=f"request:{request_id}"):
        request = gr.own_request(session, request_id, researcher.user_id)
    return request


@dataclass
class RequestProgress:
    """Where one of the researcher's requests stands: what stops a draft from being submitted,
    and the release state of its output."""

    request: DataRequest
    problems: list[str]
    release: Release


def request_progress(*, session: Session, researcher: Principal, request_id: str
                     ) -> RequestProgress:
    """``own_request`` with its submission problems and release state (audited as a read)."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.read",
                 target=f"request:{request_id}"):
        r = gr.own_request(session, request_id, researcher.user_id)
        problems = gr.submission_problems(r, r.updated_at.date()) if r.status == "draft" else []
        release = output_release.release_of(r, output_release.extract_record(session, r.id))
    return RequestProgress(request=r, problems=problems, release=release)


def create_request(*, session: Session, researcher: Principal, data: RequestInput,
                   published: Choices) -> DataRequest:
    """A new draft; its cohort may name only years and LEAs with published data."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.create") as audit:
        check_cohort(published, data.cohort.academic_years, data.cohort.reporting_leas)
        request = gr.create_request(session, researcher.user_id, data)
        audit.target = f"request:{request.id}"
    return request


def submit_request(*, session: Session, settings: Settings, researcher: Principal,
                   request_id: str) -> DataRequest:
    """Submit a draft to the board and to the data stewards of every partner whose records it
    would use (provider review, ``settings.provider_review_days`` business days)."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.submit",
                 target=f"request:{request_id}"):
        request = gr.submit_request(session, request_id, researcher.user_id,
                                    review_days=settings.provider_review_days)
    return request


def withdraw_request(*, session: Session, researcher: Principal, request_id: str
                     ) -> DataRequest:
    """Withdraw a draft or submitted request."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.withdraw",
                 target=f"request:{request_id}"):
        request = gr.withdraw_request(session, request_id, researcher.user_id)
    return request


def regroup_request(*, session: Session, researcher: Principal, request_id: str,
                    group_by: list[str], variables: list[str] | None = None) -> DataRequest:
    """After failed output checks, drop grouping or outcome variables (never add any); the
    request goes back to fulfilment and the old package is deleted."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.regroup",
                 target=f"request:{request_id}",
                 detail={"group_by": group_by, "variables": variables}):
        updated, old_package = gr.regroup(session, request_id, researcher.user_id,
                                          group_by=group_by, variables=variables)
    Path(old_package).unlink(missing_ok=True)
    return updated


@dataclass(frozen=True)
class Package:
    """An extract package its owner may download now."""

    path: Path
    sha256: str


def extract_package(*, session: Session, researcher: Principal, request_id: str) -> Package:
    """The encrypted package of the researcher's fulfilled request, before it expires."""
    with audited(session, actor=researcher.name, role=ROLE, action="extract.download",
                 target=f"request:{request_id}") as audit:
        record = extract_for_download(session, request_id, researcher.user_id)
        path = Path(record.package_path)
        if not path.is_file():
            raise InternalError(f"the extract of request {request_id} is missing on disk")
        audit["sha256"] = record.sha256
    return Package(path=path, sha256=record.sha256)


@dataclass(frozen=True)
class DataKey:
    """The data key that opens a package (base64, the format of ``deidentify`` key files)."""

    key_base64: str
    expires_at: datetime


def extract_key(*, session: Session, keys: KeyProvider, researcher: Principal,
                request_id: str) -> DataKey:
    """The key of the researcher's extract package (audited: it opens the data)."""
    with audited(session, actor=researcher.name, role=ROLE, action="extract.key",
                 target=f"request:{request_id}"):
        record: ExtractRecord = extract_for_download(session, request_id,
                                                        researcher.user_id)
        key = data_key_base64(keys, request_id)
    return DataKey(key_base64=key, expires_at=record.expires_at)


def data_key_base64(keys: KeyProvider, request_id: str) -> str:
    """Base64, the format of the key files ``deidentify.write_key_file`` writes."""
    # Imported here so the API starts even when only this route needs the extract library.
    from deidentify import extract_data_key

    return base64.b64encode(extract_data_key(keys, request_id)).decode("ascii")
