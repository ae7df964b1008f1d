"""Provisional person ids between annual runs (linkage/provisional.py): new CCGI weeks and a
new college term scored against the MDM of the last annual run, then the next annual run
judged against them, on seeded generated data ingested through the real pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import linkage
import linkage.provisional
import synth
from core.errors import NotFound
from core.settings import Settings
from ingest import expand_paths, ingest_files
from ingest.partners_csv import load_partners_csv
from linkage.identity_extras import identity_extras
from linkage.provisional import (
    PROVISIONAL_LINKS,
    link_provisional,
    provisional_agreement,
)
from linkage.standardise import build_identities

KEY = b"k" * 32
CUTOFF = "2024-01-01"  # CCGI weeks from here and college terms from spring 2024 arrive later


def _late(path: Path) -> bool:
    name = path.name
    if name.startswith("ccgi_activity_"):
        return name.removeprefix("ccgi_activity_").removesuffix(".csv") >= CUTOFF
    return name.startswith("college_") and name.endswith("_243.csv")


@pytest.fixture(scope="module")
def weekly(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("provisional")
    landing = root / "landing"
    synth.generate(landing, students=400, seed=5, years=["2022-23", "2023-24"])
    files = expand_paths([landing / d for d in ("calpads", "college", "ccgi")])
    partners = load_partners_csv(landing / "partners.csv")
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    settings = Settings(home=root)
    ingest_files(con, [f for f in files if not _late(f)], root / "raw", KEY, partners)
    linkage.run_annual_link(con, settings=settings, run_id="y1", runs_dir=root / "runs")
    before = dict(((a, b, c), d) for a, b, c, d in con.execute(
        "SELECT source_system, partner_org, source_person_id, person_id FROM mdm.crosswalk"
    ).fetchall())
    ingest_files(con, [f for f in files if _late(f)], root / "raw", KEY, partners)
    built: list[pa.Table] = []  # what the provisional run standardised, call by call

    def recording(build_con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> Any:
        result = build_identities(build_con, *args, **kwargs)
        built.append(build_con.execute(f"FROM {kwargs['target']}").fetch_arrow_table())
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(linkage.provisional, "build_identities", recording)
        summary = link_provisional(con, runs_dir=root / "runs", run_id="w1",
                                   threshold=settings.link_match_threshold)
    yield con, root, settings, before, summary, built
    con.close()


@pytest.mark.slow
def test_new_records_get_provisional_ids_and_existing_ids_do_not_move(weekly) -> None:  # type: ignore[no-untyped-def]
    con, _, _, before, summary, _ = weekly
    assert summary.model_run_id == "y1" and summary.new_units > 20
    assert summary.linked_to_existing > 0 and summary.new_persons > 0
    after = dict(((a, b, c), d) for a, b, c, d in con.execute(
        "SELECT source_system, partner_org, source_person_id, person_id FROM mdm.crosswalk"
    ).fetchall())
    assert after == before  # the crosswalk is the annual run's alone
    rows = con.execute(f"SELECT source_system, partner_org, source_person_id, person_id, "
                       f"new_person, provisional FROM {PROVISIONAL_LINKS}").fetchall()
    assert len(rows) == summary.new_units
    assert all(r[5] for r in rows)  # every row says it is provisional
    assert not any((r[0], r[1], r[2]) in before for r in rows)
    existing = set(before.values())
    for *_, person, new_person, _ in rows:
        assert (person in existing) != new_person
        assert new_person == person.startswith("T")


_COMPARED = ("unit_id", "run_id")  # the build's own numbering and run: not the record's


def test_a_weekly_file_standardises_only_its_new_records(weekly) -> None:  # type: ignore[no-untyped-def]
    """The weekly cost follows the new file, not the MDM: the existing units' staging is not
    standardised again (their identities are the annual run's), and the new units come out
    as a build over all staging makes them (same code, the MDM's names as vocabulary)."""
    con, _, _, before, summary, built = weekly
    assert len(built) == 1
    keys = ["source_system", "partner_org", "source_person_id"]
    made = {tuple(r[k] for k in keys): r for r in built[0].to_pylist()}
    assert len(made) == summary.new_units > 20
    assert not set(made) & set(before)  # no existing unit was standardised again
    build_identities(con, "full", extras=identity_extras(con), target="mdm._full_build")
    full = {tuple(r[k] for k in keys): r
            for r in con.execute("FROM mdm._full_build").fetch_arrow_table().to_pylist()}
    con.execute("DROP TABLE mdm._full_build")
    assert set(made) == set(full) - set(before)  # every new unit, and only those
    differ = [k for k, row in made.items()
              if {c: v for c, v in row.items() if c not in _COMPARED}
              != {c: v for c, v in full[k].items() if c not in _COMPARED}]
    assert differ == []


def test_the_search_for_new_records_can_be_kept_to_the_files_just_loaded(weekly) -> None:  # type: ignore[no-untyped-def]
    """Named files: only their rows are searched for units the crosswalk lacks. The late
    files find the same new records as all staging; an early file finds none."""
    con, root, settings, _, summary, _ = weekly
    loaded = con.execute("SELECT file_id, original_name FROM ingest.files "
                         "WHERE loaded_at IS NOT NULL").fetchall()
    late = [f for f, name in loaded if _late(Path(name))]
    early = [f for f, name in loaded if not _late(Path(name))]
    assert late and early
    assert link_provisional(con, runs_dir=root / "runs", run_id="w0", files=early[:1],
                            threshold=settings.link_match_threshold).new_units == 0
    again = link_provisional(con, runs_dir=root / "runs", run_id="w1", files=late,
                             threshold=settings.link_match_threshold)
    assert (again.new_units, again.linked_to_existing, again.new_persons) == (
        summary.new_units, summary.linked_to_existing, summary.new_persons)


# Issue 28's target, asserted as it stands. The data are seeded, so the figure is fixed, and at
# this size (a few dozen provisional units) one disagreement already drops below 99.5 %: the
# test fails on the first provisional assignment the annual run overturns. A looser bound
# (the 0.98 this test had) would let one or two through unseen.
AGREEMENT_TARGET = 0.995


def test_the_next_annual_run_agrees_with_the_provisional_links(weekly) -> None:  # type: ignore[no-untyped-def]
    con, root, settings, _, summary, _ = weekly
    linkage.run_annual_link(con, settings=settings, run_id="y2", runs_dir=root / "runs")
    judged = provisional_agreement(con)
    assert judged.units == summary.new_units and judged.units >= 20
    assert judged.confirmed + judged.merged + judged.split == judged.units
    # computed here from the two runs' tables, not taken from the judge's own ratio
    confirmed = con.execute(f"""SELECT count(*) FROM {PROVISIONAL_LINKS} p
        JOIN mdm.crosswalk x USING (source_system, partner_org, source_person_id)
        WHERE NOT p.new_person AND p.person_id = x.person_id""").fetchone()[0]
    fresh = con.execute(f"""SELECT count(*) FROM {PROVISIONAL_LINKS} p
        JOIN mdm.crosswalk x USING (source_system, partner_org, source_person_id)
        WHERE p.new_person AND x.person_id IN (SELECT person_id FROM mdm.person_ids
                                               WHERE created_run_id = 'y2')""").fetchone()[0]
    assert confirmed + fresh >= judged.confirmed  # the judge is no kinder than the tables
    assert judged.agreement is not None and judged.agreement >= AGREEMENT_TARGET, judged


def test_no_annual_run_no_provisional_ids(tmp_path: Path) -> None:
    con = duckdb.connect()
    with pytest.raises(NotFound, match="no finished annual link run"):
        link_provisional(con, runs_dir=tmp_path, run_id="w0", threshold=0.9)
