"""Submission tracking for the K12 Strong Workforce Program (SWP).

Per partner and academic year: rows received per CALPADS file type (current files only), what
the partner's funding rounds still need, and where it stands against the deadline. The rounds
(which years each needs, which file types, the deadline) are data: ``core/swp_rounds.py``.
The deadline for academic year ``2022-23`` is the deadline day (1 November) of 2023, the
autumn after the year ends.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from core import tables
from core.calpads import FILE_TYPES
from core.partners import Partner, PartnerKind
from core.swp_rounds import Round, load_rounds
from ingest.schema import ensure_schema

CSV_COLUMNS = (
    "Org_Name", "Academic_Year", *FILE_TYPES, "Org_Code", "Rounds", "Missing", "Deadline",
    "Deadline_Status",
)


@dataclass
class SubmissionRow:
    org_code: str
    org_name: str
    academic_year: str
    counts: dict[str, int]
    rounds: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    deadline: date | None = None
    deadline_status: str = ""

    def as_csv_row(self) -> dict[str, str]:
        row = {"Org_Name": self.org_name, "Academic_Year": self.academic_year}
        row.update({t: str(self.counts.get(t, 0)) for t in FILE_TYPES})
        row.update(
            Org_Code=self.org_code, Rounds=";".join(map(str, self.rounds)),
            Missing=";".join(self.missing),
            Deadline=self.deadline.isoformat() if self.deadline else "",
            Deadline_Status=self.deadline_status,
        )
        return row


Received = dict[tuple[str, str], dict[str, tuple[int, date]]]


def _received(con: duckdb.DuckDBPyConnection, as_of: date) -> Received:
    """(org, year) -> file type -> (rows, date received), current files received by ``as_of``."""
    found: Received = {}
    for org, year, kind, rows, received in con.execute(
        f"SELECT f.partner_org, f.period, f.kind, sum(r.rows), max(f.received_at) "
        f"FROM {tables.FILES} f JOIN {tables.RECEIPTS} r USING (file_id) "
        "WHERE f.source_system = 'calpads' AND f.status = 'accepted' "
        "AND CAST(f.received_at AS DATE) <= ? GROUP BY ALL", [as_of]
    ).fetchall():
        found.setdefault((org, year), {})[kind] = (int(rows), received.date())
    return found


def submission_report(
    con: duckdb.DuckDBPyConnection,
    partners: list[Partner],
    as_of: date,
    rounds: dict[int, Round] | None = None,
) -> list[SubmissionRow]:
    """One row per LEA/COE partner and academic year (years its rounds need, plus years sent)."""
    ensure_schema(con)
    rounds = rounds if rounds is not None else load_rounds()
    received = _received(con, as_of)
    names = {p.org_code: p for p in partners}
    orgs = {p.org_code for p in partners if p.kind in (PartnerKind.LEA, PartnerKind.COE)}
    orgs |= {org for org, _ in received}
    # years each org sent, built once: scanning ``received`` per org is quadratic in the
    # number of LEAs (2,400 statewide)
    sent_years: dict[str, set[str]] = {}
    for org, year in received:
        sent_years.setdefault(org, set()).add(year)
    rows: list[SubmissionRow] = []
    for org in sorted(orgs):
        partner = names.get(org)
        needs: dict[str, list[Round]] = {}
        for number in (partner.swp_rounds if partner else []):
            if number in rounds:
                for year in rounds[number].years:
                    needs.setdefault(year, []).append(rounds[number])
        years = set(needs) | sent_years.get(org, set())
        for year in sorted(years):
            got = received.get((org, year), {})
            counts = {t: got[t][0] if t in got else 0 for t in FILE_TYPES}
            year_rounds = needs.get(year, [])
            required = sorted({t for r in year_rounds for t in r.file_types})
            missing = [t for t in required if counts.get(t, 0) == 0]
            deadline = None
            status = "not required"
            if year_rounds:
                month, day = min(r.deadline_month_day for r in year_rounds)
                deadline = date(int(year[:4]) + 1, month, day)
                received_on = [got[t][1] for t in required if t in got]
                status = _status(missing, deadline, as_of, received_on)
            rows.append(SubmissionRow(
                org_code=org, org_name=partner.name if partner else f"(unregistered {org})",
                academic_year=year, counts=counts, rounds=sorted(r.number for r in year_rounds),
                missing=missing, deadline=deadline, deadline_status=status,
            ))
    return rows


def _status(missing: list[str], deadline: date, as_of: date, loaded: list[date]) -> str:
    if not missing:
        late = any(d > deadline for d in loaded)
        return "complete (late)" if late else "complete"
    if as_of > deadline:
        return f"overdue by {(as_of - deadline).days} days"
    return f"due in {(deadline - as_of).days} days"


def write_csv(rows: list[SubmissionRow], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_csv_row())
