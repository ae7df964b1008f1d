"""The partner registry read from a CSV file (``c2c ingest --partner-registry``, tests and
benchmarks); the service's registry is the governance store (``c2c partners import``).

Columns: org_code, name, kind, charter, agreement_status, agreement_start, agreement_end,
liaison_contact, data_security_contact, swp_rounds (``1;3``).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from pydantic import ValidationError

from core.errors import InputRejected, Location
from core.partners import AgreementStatus, Partner, PartnerKind

REQUIRED = ("org_code", "name", "kind")


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text.strip() else None


def load_partners_csv(path: Path) -> list[Partner]:
    """Read the registry; a bad row is rejected with its line and field."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise InputRejected(f"partner registry lacks column(s) {', '.join(missing)}",
                                Location(str(path), 1, missing[0], None, "header_required_column"))
        partners = []
        for line, record in enumerate(reader, start=2):
            values = {k: (v or "").strip() for k, v in record.items() if k}
            field = "kind"
            try:
                kind = PartnerKind(values.get("kind", "").lower())
                field = "agreement_status"
                status = AgreementStatus((values.get("agreement_status") or "none").lower())
            except ValueError as exc:
                raise InputRejected(f"invalid {field}", Location(
                    str(path), line, field, values.get(field), "partner_record")) from exc
            field = "swp_rounds"
            try:
                rounds = [int(r) for r in values.get("swp_rounds", "").split(";") if r.strip()]
                field = "agreement_start"
                start = _date(values.get("agreement_start", ""))
                field = "agreement_end"
                end = _date(values.get("agreement_end", ""))
                field = "org_code"
                partners.append(Partner(
                    org_code=values["org_code"], name=values["name"], kind=kind,
                    charter=values.get("charter", "").lower() in ("1", "true", "y", "yes"),
                    agreement_status=status,
                    agreement_start=start, agreement_end=end,
                    liaison_contact=values.get("liaison_contact") or None,
                    data_security_contact=values.get("data_security_contact") or None,
                    swp_rounds=rounds,
                ))
            except (ValueError, ValidationError) as exc:
                loc = exc.errors()[0]["loc"] if isinstance(exc, ValidationError) else ()
                bad = loc[0] if loc else field  # a whole-record rule: the org_code's fit
                raise InputRejected(f"invalid partner record: {exc}".splitlines()[0],
                                    Location(str(path), line, str(bad), values.get(str(bad)),
                                             "partner_record")) from exc
    return partners
