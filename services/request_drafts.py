"""Use case: write a data request (new or an edited draft) and submit it, all or nothing.

A Submit that cannot succeed must not leave a draft behind: what stops a submission is
checked on what was written *before* anything is stored (the same ``submission_problems`` the
submit itself applies), so a refused Submit keeps the form and creates nothing.
"""

from __future__ import annotations

from datetime import date

from governance.models import DataRequest
from governance.request_inputs import RequestInput
from governance.request_lifecycle import submission_problems


def problems_before_submit(*, body: RequestInput, today: date) -> list[str]:
    """What would stop ``body`` from being submitted today, in the researcher's words."""
    unsaved = DataRequest(kind=body.kind.value, variables=list(body.variables),
                          group_by=list(body.group_by),
                          training_attested=body.training_attested,
                          irb_reference=body.irb_reference,
                          requested_expiry=body.requested_expiry)
    return submission_problems(unsaved, today)


def form_values(request: DataRequest) -> dict[str, object]:
    """A stored draft as the request form's fields (to edit it)."""
    cohort = request.cohort or {}
    return {"kind": request.kind, "title": request.title, "purpose": request.purpose,
            "variables": list(request.variables), "group_by": list(request.group_by),
            "years": list(cohort.get("academic_years") or []),
            "leas": list(cohort.get("reporting_leas") or []),
            "training_attested": request.training_attested,
            "irb_reference": request.irb_reference or "",
            "requested_expiry": request.requested_expiry.isoformat()
            if request.requested_expiry else ""}
