"""Partner registry and data-sharing agreements (MOUs).

Ingest receives partners as ``core.partners.Partner`` records (it never reads this store);
:func:`list_partners` produces them. A partner's *current* agreement is its newest agreement
row; earlier rows stay as history.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.data_use import OnObjection, Purpose, SilenceMeans
from core.emails import email_problem, normal_email
from core.errors import InputRejected, Location, NotFound, UserError
from core.partners import AgreementStatus, Partner, PartnerKind, org_code_problem
from governance.models import Agreement, PartnerRow

CSV_COLUMNS = (
    "org_code", "name", "kind", "charter", "agreement_status", "agreement_start",
    "agreement_end", "liaison_contact", "data_security_contact", "swp_rounds",
)
# Optional columns: the agreement's terms for provider review (docs/api.md). Absent means the
# safe default: silence is an objection, an objection excludes, the MOU template's purposes,
# and no named steward (so none can be granted).
TERMS_COLUMNS = ("silence_means", "on_objection", "permitted_purposes", "stewards")


def to_record(row: PartnerRow) -> Partner:
    current = row.agreements[-1] if row.agreements else None
    return Partner(
        org_code=row.org_code,
        name=row.name,
        kind=PartnerKind(row.kind),
        charter=row.charter,
        agreement_status=AgreementStatus(current.status) if current else AgreementStatus.NONE,
        agreement_start=current.start_date if current else None,
        agreement_end=current.end_date if current else None,
        liaison_contact=row.liaison_contact,
        data_security_contact=row.data_security_contact,
        swp_rounds=[int(r) for r in row.swp_rounds],
        silence_means=SilenceMeans(current.silence_means) if current else SilenceMeans.OBJECTION,
        on_objection=OnObjection(current.on_objection) if current else OnObjection.EXCLUDE,
        permitted_purposes=(None if current is None or current.permitted_purposes is None
                            else [Purpose(p) for p in current.permitted_purposes]),
        stewards=list(current.stewards or []) if current else [],
    )


def _terms(partner: Partner) -> tuple[object, ...]:
    purposes = None if partner.permitted_purposes is None else sorted(partner.permitted_purposes)
    return (partner.silence_means, partner.on_objection, purposes, sorted(partner.stewards))


def list_partners(session: Session) -> list[Partner]:
    # selectinload: one query for every agreement, not one per partner (2,500 in the state)
    rows = session.execute(select(PartnerRow).options(selectinload(PartnerRow.agreements))
                           .order_by(PartnerRow.org_code)).scalars()
    return [to_record(row) for row in rows]


def list_partners_page(session: Session, limit: int, offset: int) -> tuple[int, list[Partner]]:
    """(total, one page of partners ordered by org_code): the registry a page at a time."""
    total = session.execute(select(func.count()).select_from(PartnerRow)).scalar_one()
    rows = session.execute(select(PartnerRow).options(selectinload(PartnerRow.agreements))
                           .order_by(PartnerRow.org_code).limit(limit).offset(offset)).scalars()
    return int(total), [to_record(row) for row in rows]


def get_partner(session: Session, org_code: str) -> Partner:
    row = session.get(PartnerRow, org_code)
    if row is None:
        raise NotFound(f"no partner with org_code {org_code!r}")
    return to_record(row)


def find_partner(session: Session, org_code: str) -> Partner | None:
    row = session.get(PartnerRow, org_code)
    return to_record(row) if row is not None else None


def upsert_partner(session: Session, partner: Partner) -> Partner:
    """Create or update a partner; records a new agreement row only when the agreement changed."""
    row = session.get(PartnerRow, partner.org_code)
    if row is None:
        row = PartnerRow(org_code=partner.org_code, name=partner.name, kind=partner.kind.value,
                         charter=partner.charter, swp_rounds=[])
        session.add(row)
    row.name = partner.name
    row.kind = partner.kind.value
    row.charter = partner.charter
    row.liaison_contact = partner.liaison_contact
    row.data_security_contact = partner.data_security_contact
    row.swp_rounds = sorted(set(partner.swp_rounds))
    session.flush()
    current = to_record(row)
    agreement_changed = (
        current.agreement_status, current.agreement_start, current.agreement_end,
        *_terms(current),
    ) != (partner.agreement_status, partner.agreement_start, partner.agreement_end,
          *_terms(partner))
    if agreement_changed and not (
        partner.agreement_status == AgreementStatus.NONE and not row.agreements
    ):
        record_agreement(session, partner.org_code, partner.agreement_status,
                         partner.agreement_start, partner.agreement_end, terms=partner)
    session.refresh(row)
    return to_record(row)


def record_agreement(
    session: Session,
    org_code: str,
    status: AgreementStatus,
    start: date | None,
    end: date | None,
    note: str | None = None,
    *,
    terms: Partner | None = None,
) -> Partner:
    """Add a new agreement version for a partner (it becomes the current one). Its review
    terms come from ``terms``, else they carry over from the current agreement."""
    row = session.get(PartnerRow, org_code)
    if row is None:
        raise NotFound(f"no partner with org_code {org_code!r}")
    if start and end and end < start:
        raise UserError(f"agreement end {end} is before its start {start}")
    session.add(_agreement_row(to_record(row), status, start, end, note, terms=terms))
    session.flush()
    session.refresh(row)
    return to_record(row)


def _agreement_row(partner: Partner, status: AgreementStatus, start: date | None,
                   end: date | None, note: str | None, *, terms: Partner | None) -> Agreement:
    """A new agreement version; its review terms come from ``terms``, else they carry over
    from ``partner``'s current agreement."""
    source = terms or partner
    return Agreement(
        org_code=partner.org_code, status=AgreementStatus(status).value, start_date=start,
        end_date=end, note=note, silence_means=source.silence_means.value,
        on_objection=source.on_objection.value,
        permitted_purposes=(None if source.permitted_purposes is None
                            else sorted(p.value for p in source.permitted_purposes)),
        stewards=sorted(source.stewards) or None)


def _parse_row(raw: dict[str, str | None], path: Path, line: int) -> Partner:
    def text(name: str) -> str:
        return (raw.get(name) or "").strip()

    def parse_date(name: str) -> date | None:
        value = text(name)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise InputRejected("expected a date YYYY-MM-DD",
                                Location(str(path), line, name, value, "iso_date")) from exc

    rounds_text = text("swp_rounds")
    try:
        rounds = [int(r) for r in rounds_text.replace(",", ";").split(";") if r.strip()]
    except ValueError as exc:
        where = Location(str(path), line, "swp_rounds", rounds_text, "int_list")
        raise InputRejected("expected round numbers separated by ';' (e.g. 1;3)", where) from exc
    charter_text = text("charter").lower()
    if charter_text not in {"", "true", "false", "1", "0", "yes", "no", "y", "n"}:
        raise InputRejected("expected true or false",
                            Location(str(path), line, "charter", text("charter"), "boolean"))
    for name, enum in (("kind", PartnerKind), ("agreement_status", AgreementStatus)):
        value = text(name).lower() or ("none" if name == "agreement_status" else "")
        allowed = [member.value for member in enum]
        if value not in allowed:
            raise InputRejected(f"expected one of {', '.join(allowed)}",
                                Location(str(path), line, name, text(name), "code_set"))
    terms_codes = {"silence_means": [m.value for m in SilenceMeans],
                   "on_objection": [m.value for m in OnObjection]}
    for name, allowed in terms_codes.items():
        if text(name) and text(name).lower() not in allowed:
            raise InputRejected(f"expected one of {', '.join(allowed)}",
                                Location(str(path), line, name, text(name), "code_set"))
    purposes_text = text("permitted_purposes")
    purposes = [p.strip().lower() for p in purposes_text.split(";") if p.strip()]
    unknown = [p for p in purposes if p not in {member.value for member in Purpose}]
    if unknown:
        raise InputRejected(f"unknown purpose(s) {', '.join(unknown)}; expected "
                            f"{', '.join(member.value for member in Purpose)} separated by ';'",
                            Location(str(path), line, "permitted_purposes", purposes_text,
                                     "code_set"))
    stewards = [a.strip() for a in text("stewards").split(";") if a.strip()]
    for address in stewards:
        problem = email_problem(address)
        if problem:
            raise InputRejected(f"steward {problem}",
                                Location(str(path), line, "stewards", address, "email"))
    if not text("org_code") or not text("name"):
        field = "org_code" if not text("org_code") else "name"
        raise InputRejected("must not be empty", Location(str(path), line, field, "", "required"))
    problem = org_code_problem(text("org_code"), text("kind").lower())
    if problem:
        raise InputRejected(problem, Location(str(path), line, "org_code", text("org_code"),
                                              "org_code"))
    try:
        return Partner(
            org_code=text("org_code"),
            name=text("name"),
            kind=PartnerKind(text("kind").lower()),
            charter=charter_text in {"true", "1", "yes", "y"},
            agreement_status=AgreementStatus(text("agreement_status").lower() or "none"),
            agreement_start=parse_date("agreement_start"),
            agreement_end=parse_date("agreement_end"),
            liaison_contact=text("liaison_contact") or None,
            data_security_contact=text("data_security_contact") or None,
            swp_rounds=rounds,
            silence_means=SilenceMeans(text("silence_means").lower() or "objection"),
            on_objection=OnObjection(text("on_objection").lower() or "exclude"),
            permitted_purposes=[Purpose(p) for p in purposes] if purposes_text else None,
            stewards=sorted({normal_email(a) for a in stewards}),
        )
    except ValidationError as exc:
        raise InputRejected(str(exc.errors()[0]["msg"]), Location(str(path), line)) from exc


def import_partners_csv(session: Session, path: Path) -> list[Partner]:
    """Create or update every partner in the generator's ``partners.csv``.

    All rows are checked before any is written, so a bad file changes nothing.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputRejected(f"missing column(s) {', '.join(missing)}; expected "
                                f"{','.join(CSV_COLUMNS)}", Location(str(path), 1))
        parsed = [_parse_row(raw, path, number) for number, raw in enumerate(reader, start=2)]
    seen: set[str] = set()
    for line, partner in enumerate(parsed, start=2):
        if partner.org_code in seen:
            raise InputRejected("duplicate org_code",
                                Location(str(path), line, "org_code", partner.org_code, "unique"))
        seen.add(partner.org_code)
        start, end = partner.agreement_start, partner.agreement_end
        if start and end and end < start:
            raise InputRejected(f"agreement end {end} is before its start {start}",
                                Location(str(path), line, "agreement_end", str(end), "end>=start"))
    return _upsert_many(session, parsed)


def _upsert_many(session: Session, partners: list[Partner]) -> list[Partner]:
    """:func:`upsert_partner` for many partners with a constant number of queries.

    The per-partner version flushes and reloads each row (22 s for the state's 2,493 partners
    on SQLite); here the existing rows and their agreements are read in one query, changes are
    made in memory and written in one flush. Same rules: a new agreement row only when the
    agreement changed, none for a partner that never had one and still has none.
    """
    existing: dict[str, PartnerRow] = {}
    codes = [p.org_code for p in partners]
    for chunk in range(0, len(codes), 500):  # bounded IN lists
        rows = session.execute(select(PartnerRow).options(selectinload(PartnerRow.agreements))
                               .where(PartnerRow.org_code.in_(codes[chunk:chunk + 500])))
        existing.update((row.org_code, row) for row in rows.scalars())
    touched: list[PartnerRow] = []
    for partner in partners:
        row = existing.get(partner.org_code)
        if row is None:
            row = PartnerRow(org_code=partner.org_code, name=partner.name,
                             kind=partner.kind.value, charter=partner.charter, swp_rounds=[],
                             agreements=[])
            session.add(row)
            existing[partner.org_code] = row
        row.name = partner.name
        row.kind = partner.kind.value
        row.charter = partner.charter
        row.liaison_contact = partner.liaison_contact
        row.data_security_contact = partner.data_security_contact
        row.swp_rounds = sorted(set(partner.swp_rounds))
        current = to_record(row) if row.agreements else None
        now = ((current.agreement_status, current.agreement_start, current.agreement_end,
                *_terms(current)) if current else (AgreementStatus.NONE, None, None))
        wanted = (partner.agreement_status, partner.agreement_start, partner.agreement_end,
                  *_terms(partner))
        if now != wanted and not (partner.agreement_status == AgreementStatus.NONE
                                  and not row.agreements):
            row.agreements.append(_agreement_row(partner, partner.agreement_status,
                                                 partner.agreement_start,
                                                 partner.agreement_end, None, terms=partner))
        touched.append(row)
    session.flush()
    return [to_record(row) for row in touched]
