"""Use case: a researcher's data request, from draft to download (the researcher API routes
and portal pages call these; each is audited under the researcher's name).

The board's decision is :mod:`services.board_decision`; the preview :mod:`services.preview`.
"""

from __future__ import annotations

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
from governance.request_inputs import RequestInput, RequestPatch
from governance.users import Principal
from services.choices import Choices, check_cohort

ROLE = "researcher"


def own_requests(*, session: Session, researcher: Principal, limit: int = 100,
                 offset: int = 0) -> tuple[int, list[DataRequest]]:
    """One page of the researcher's own requests, oldest first, and how many there are in
    all (audited)."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.list"):
        total, requests = gr.list_own_requests(session, researcher.user_id, limit=limit,
                                               offset=offset)
    return total, requests


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


def edit_request(*, session: Session, researcher: Principal, request_id: str,
                 patch: RequestPatch, published: Choices) -> DataRequest:
    """Edit a draft (only the fields sent change); a new cohort may name only years and LEAs
    with published data."""
    with audited(session, actor=researcher.name, role=ROLE, action="request.edit",
                 target=f"request:{request_id}",
                 detail={"fields": sorted(patch.model_fields_set)}):
        if patch.cohort is not None:
            check_cohort(published, patch.cohort.academic_years, patch.cohort.reporting_leas)
        request = gr.update_request(session, request_id, researcher.user_id, patch)
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
class OwnerKey:
    """The age identity that opens a package, as its owner gets it."""

    identity: str  # AGE-SECRET-KEY-1...
    key_file: str  # the identity file to save (comments, then the identity)
    file_name: str  # what to save it as
    package_name: str  # the download's file name
    command: str  # the one command that opens the download
    expires_at: datetime


def owner_key(keys: KeyProvider, request_id: str, expires_at: datetime) -> OwnerKey:
    # Imported here so the API starts even when only this route needs the extract library.
    from deidentify import extract_data_key, key_file_text
    from deidentify.package import age_identity

    data_key = extract_data_key(keys, request_id)
    file_name, package_name = f"{request_id}-key.txt", package_file_name(request_id)
    return OwnerKey(identity=age_identity(data_key),
                    key_file=key_file_text(request_id, data_key, f"{expires_at:%Y-%m-%d}"),
                    file_name=file_name, package_name=package_name,
                    command=f"age -d -i {file_name} {package_name} | tar -x",
                    expires_at=expires_at)


def package_file_name(request_id: str) -> str:
    """What a downloaded package is saved as."""
    from deidentify.contents import PACKAGE_SUFFIX

    return f"{request_id}{PACKAGE_SUFFIX}"


def extract_key(*, session: Session, keys: KeyProvider, researcher: Principal,
                request_id: str) -> OwnerKey:
    """The key of the researcher's extract package (audited: it opens the data)."""
    with audited(session, actor=researcher.name, role=ROLE, action="extract.key",
                 target=f"request:{request_id}"):
        record: ExtractRecord = extract_for_download(session, request_id,
                                                        researcher.user_id)
        key = owner_key(keys, request_id, record.expires_at)
    return key
