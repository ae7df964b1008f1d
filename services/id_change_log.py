"""Use cases: the change log of person ids (``linkage.id_changes``), for each reader.

- the operator (``c2c id-changes``): exact counts of one run's merges, splits and
  retirements by reason and by partner, read in the operator's own terminal, never served;
- a partner (``GET /v1/partner/id-changes``, the portal's partner page): how many of its own
  records' ids the run changed, by event and reason, every count through the egress gate
  (a merge says its record met another partner's, so these are not only its own data);
- researchers holding earlier extracts (after each ``c2c link`` / Dagster ``annual_link``): an
  e-mail per extract whose people's ids changed, with gated counts and never who.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from core.errors import NotFound
from core.gate import GatedCount, gate_count, label_key
from core.settings import Settings
from core.warehouse import warehouse
from governance import notices
from linkage.id_changes import (
    ChangeLog,
    CohortChange,
    cohort_counts,
    latest_run,
    operator_log,
    partner_counts,
)


def _run_or_latest(con: object, run_id: str | None) -> str:
    run = run_id or latest_run(con)  # type: ignore[arg-type]
    if run is None:
        raise NotFound("no finished annual link run yet: run `c2c link` first")
    return run


def operator_change_log(*, settings: Settings, run_id: str | None = None) -> ChangeLog:
    """Exact counts for the operator's CLI (the latest succeeded run by default)."""
    with warehouse(settings, read_only=True) as con:
        return operator_log(con, _run_or_latest(con, run_id))


@dataclass(frozen=True)
class GatedChange:
    event: str
    reason: str
    records: GatedCount


@dataclass(frozen=True)
class PartnerIdChanges:
    run_id: str
    org_code: str
    changes: list[GatedChange]


def partner_id_changes(*, settings: Settings, org: str, run_id: str | None = None
                       ) -> PartnerIdChanges:
    """How many of ``org``'s records each event and reason touched, gated: a count under the
    threshold is hidden exactly like a published cell, and each count's cell key is fixed by
    run, partner, event and reason, so asking again shows the same number."""
    with warehouse(settings, read_only=True) as con:
        run = _run_or_latest(con, run_id)
        raw = partner_counts(con, run, org)
    min_cell = settings.suppression_min_cell
    return PartnerIdChanges(run_id=run, org_code=org, changes=[
        GatedChange(event, reason, gate_count(n, label_key(
            f"id-changes/{run}/{org}/{event}/{reason}"), min_cell))
        for event, reason, n in raw])


@dataclass(frozen=True)
class CohortNote:
    request_id: str
    merged: GatedCount
    split: GatedCount
    retired: GatedCount


def gated_cohort(change: CohortChange, run_id: str, min_cell: int) -> CohortNote:
    def gate(what: str, n: int) -> GatedCount:
        return gate_count(n, label_key(f"id-changes/{run_id}/{change.request_id}/{what}"),
                          min_cell)
    return CohortNote(change.request_id, gate("merged", change.merged),
                      gate("split", change.split), gate("retired", change.retired))


def tell_extract_holders(*, settings: Settings,
                         sessions: Callable[[], sessionmaker[Session]],
                         run_id: str) -> list[CohortNote]:
    """Queue a note to the researcher of every extract whose people's ids ``run_id`` changed;
    returns the notes. Extracts with no change get none. Extracts built before their people
    were recorded (``mdm.extract_persons``) cannot be judged and get none either: the
    operator's ``c2c id-changes`` lists them as not assessed."""
    with warehouse(settings, read_only=True) as con:
        changes = [c for c in cohort_counts(con, run_id) if c.merged + c.split + c.retired]
    notes = [gated_cohort(c, run_id, settings.suppression_min_cell) for c in changes]
    if notes:
        with sessions().begin() as session:
            for note in notes:
                notices.cohort_ids_changed(session, note.request_id, run_id=run_id,
                                           merged=note.merged, split=note.split,
                                           retired=note.retired,
                                           min_cell=settings.suppression_min_cell)
    return notes


def extracts_not_assessed(*, settings: Settings, sessions: sessionmaker[Session]) -> list[str]:
    """Individual-level extracts built before their people were recorded: no note can say
    whether their ids changed (the operator's view lists them)."""
    from governance.extract_registry import individual_extracts
    with sessions() as session:
        built = set(individual_extracts(session))
    with warehouse(settings, read_only=True) as con:
        recorded = {c.request_id for c in cohort_counts(con, latest_run(con) or "")}
    return sorted(built - recorded)
