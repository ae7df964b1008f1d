"""The researcher's request form: choices from what exists, parsed into the API's models.

The choices come from the variable catalog and the serving snapshot (``api.choices``), so the
form offers only years, LEAs and groupings the service has; what is sent is validated by the
same pydantic models and door checks as ``POST /v1/requests``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from analytics.metrics import BOOLEAN_VALUES, METRIC_BY_NAME, SUBGROUP_DOMAINS
from analytics.request_tables import GROUPABLE
from core.catalog import VARIABLES
from core.requests import CohortFilter, RequestKind
from governance.request_inputs import RequestInput
from services.choices import Choices


@dataclass
class FormData:
    kind: str = "aggregate"
    title: str = ""
    purpose: str = ""
    variables: list[str] = field(default_factory=list)
    years: list[str] = field(default_factory=list)
    leas: list[str] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    training_attested: bool = False
    irb_reference: str = ""
    requested_expiry: str = ""

    def cohort(self) -> CohortFilter:
        return CohortFilter(academic_years=self.years, reporting_leas=self.leas)

    def to_input(self) -> RequestInput:
        expiry = date.fromisoformat(self.requested_expiry) if self.requested_expiry else None
        return RequestInput(
            kind=RequestKind(self.kind), title=self.title, purpose=self.purpose,
            variables=self.variables, cohort=self.cohort(),
            group_by=self.group_by if self.kind == "aggregate" else [],
            requested_expiry=expiry, training_attested=self.training_attested,
            irb_reference=self.irb_reference or None)


def problems_of(error: ValidationError | ValueError) -> list[str]:
    if isinstance(error, ValidationError):
        return [f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}"
                for e in error.errors()]
    return [str(error)]


def value_codes(name: str) -> str:
    if name in SUBGROUP_DOMAINS:
        return ", ".join(SUBGROUP_DOMAINS[name])
    variable = next(v for v in VARIABLES if v.name == name)
    if variable.dtype == "BOOLEAN":
        return ", ".join(BOOLEAN_VALUES)
    return {"academic_year": "YYYY-YY", "reporting_lea": "7-digit CDS district code",
            "county_code": "2-digit county code", "school_code": "7-digit CDS school code",
            "grade_level": "CALPADS grade codes (KN, 01 .. 12, UE, US, ...)",
            "birth_year": "4-digit year", "person_id": "pseudonym in extracts"}.get(name, "")


def catalog_rows(c: Choices, metric_years: dict[str, list[str]]) -> list[dict[str, Any]]:
    rows = []
    for v in VARIABLES:
        years = metric_years.get(v.name) if v.name in METRIC_BY_NAME else None
        rows.append({"name": v.name, "role": v.role.replace("_", " "), "dtype": v.dtype,
                     "description": v.description, "codes": value_codes(v.name),
                     "years": ", ".join(years if years else c.academic_years) or "-"})
    return rows


def form_choices(c: Choices, lea_names: dict[str, str]) -> dict[str, Any]:
    return {
        "variables": [v for v in VARIABLES],
        "years": c.academic_years,
        "leas": [(code, lea_names.get(code, code)) for code in c.reporting_leas],
        "groupable": [g for g in GROUPABLE if g != "person_id"],
    }
