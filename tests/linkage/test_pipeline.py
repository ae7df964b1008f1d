"""The annual link end to end on small seeded data: mechanics, not accuracy benchmarks."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

import linkage
from core.errors import InputRejected, NotFound
from core.settings import Settings
from linkage.match_rate_checks import match_rate_floors
from tests.link_fixtures import make_population, truth_table, write_staging

N = 300


def _person_ids(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], str]:
    rows = con.execute("SELECT source_system, partner_org, source_person_id, person_id "
                       "FROM mdm.crosswalk").fetchall()
    return {(a, b, c): d for a, b, c, d in rows}


def _units(p, people) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    units = [("calpads", p.lea, s) for s in p.ssids]
    if p.college:
        units.append(("college", "061", f"C{p.pid:07d}"))
    if p.ccgi:
        units.append(("ccgi", "CCGI", f"G{p.pid:08d}"))
    return units


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("link")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    people = make_population(N)
    write_staging(con, people)
    settings = Settings(home=home, review_lower_threshold=0.01)
    summary = linkage.run_annual_link(con, settings=settings, run_id="y1",
                                      runs_dir=home / "runs")
    yield con, people, summary, settings, home
    con.close()


@pytest.mark.slow
def test_twins_are_never_merged(linked) -> None:  # type: ignore[no-untyped-def]
    con, people, *_ = linked
    ids = _person_ids(con)
    twins = [p for p in people if p.twin_of is not None]
    assert twins
    for twin in twins:
        other = people[twin.twin_of]
        mine = {ids[u] for u in _units(twin, people)}
        theirs = {ids[u] for u in _units(other, people)}
        assert not mine & theirs, f"twins {twin.pid}/{other.pid} merged"


def test_one_student_with_two_ssids_is_one_person(linked) -> None:  # type: ignore[no-untyped-def]
    con, people, *_ = linked
    ids = _person_ids(con)
    doubles = [p for p in people if len(p.ssids) > 1]
    assert doubles
    for p in doubles:
        assert len({ids[("calpads", p.lea, s)] for s in p.ssids}) == 1


def test_summary_and_artefacts(linked) -> None:  # type: ignore[no-untyped-def]
    con, people, summary, _, home = linked
    assert summary.records == con.execute("SELECT count(*) FROM mdm.identities").fetchone()[0]
    assert set(summary.records_by_source) == {"calpads", "college", "ccgi"}
    assert summary.clusters == con.execute(
        "SELECT count(DISTINCT person_id) FROM mdm.crosswalk").fetchone()[0]
    assert 0 < summary.match_rates["college->calpads"] <= 1
    assert {"ethnicity", "gender", "lea"} <= set(summary.subgroup_rates)
    assert all(r["marginal_pairs"] is not None for r in summary.blocking_rules if r["kept"])
    # rivals: pi measured per stratum of the college and CCGI records that name a school
    college_school = con.execute("""SELECT count(*) FROM mdm.identities
        WHERE source_system = 'college' AND len(reported_schools) > 0""").fetchone()[0]
    strata = summary.rivals["strata"]
    assert sum(v["records"] for k, v in strata.items() if k.startswith("college")) == \
        college_school
    assert all(0 <= v["pi"] <= 0.95 for v in strata.values())
    stored = con.execute("SELECT status, clusters FROM mdm.link_runs WHERE run_id = 'y1'"
                         ).fetchone()
    assert stored == ("succeeded", summary.clusters)
    run_dir = home / "runs" / "y1"
    names = {p.first for p in people} | {p.last for p in people}
    for name in summary.artefacts + ["summary.json"]:
        text = (run_dir / name).read_text(encoding="utf-8")
        assert "cdn.jsdelivr" not in text and "https://cdn" not in text
        found = [n for n in names if f'"{n}"' in text.upper() or f"'{n}'" in text.upper()]
        assert not found, f"{name} holds identifiers {found[:3]}"


def test_review_queue_decisions_are_labels_next_run(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    people = make_population(120, seed=5, twins=2, second_ssid=1)
    write_staging(con, people, seed=3)
    # a very high threshold pushes most links into the review band
    settings = Settings(home=tmp_path, link_match_threshold=0.999999999,
                        review_lower_threshold=0.01)
    first = linkage.run_annual_link(con, settings=settings, run_id="r1",
                                    runs_dir=tmp_path / "runs")
    assert first.review_queue_size > 0
    pair = con.execute("""
        SELECT q.pair_id, xl.person_id, xr.person_id, q.source_system_l, q.partner_org_l,
               q.source_person_id_l, q.source_system_r, q.partner_org_r, q.source_person_id_r
        FROM mdm.review_queue q
        JOIN mdm.crosswalk xl ON (xl.source_system, xl.partner_org, xl.source_person_id)
             = (q.source_system_l, q.partner_org_l, q.source_person_id_l)
        JOIN mdm.crosswalk xr ON (xr.source_system, xr.partner_org, xr.source_person_id)
             = (q.source_system_r, q.partner_org_r, q.source_person_id_r)
        WHERE xl.person_id <> xr.person_id ORDER BY q.pair_id LIMIT 1""").fetchone()
    assert pair is not None
    linkage.record_review_decision(con, pair[0], "match", "clerk-1")
    with pytest.raises(InputRejected):
        linkage.record_review_decision(con, pair[0], "maybe", "clerk-1")
    with pytest.raises(NotFound):
        linkage.record_review_decision(con, "no-such-pair", "match", "clerk-1")

    second = linkage.run_annual_link(con, settings=settings, run_id="r2",
                                     runs_dir=tmp_path / "runs")
    assert second.review_labels_used == 1
    ids = _person_ids(con)
    assert ids[tuple(pair[3:6])] == ids[tuple(pair[6:9])]
    queued = con.execute("SELECT count(*) FROM mdm.review_queue WHERE pair_id = ?",
                         [pair[0]]).fetchone()[0]
    assert queued == 0
    merged = con.execute("SELECT count(*) FROM mdm.person_lineage WHERE run_id = 'r2' "
                         "AND event = 'merge'").fetchone()[0]
    assert merged >= 1


def test_stable_ids_when_one_more_year_arrives(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    people = make_population(150, seed=9, twins=2, second_ssid=2)
    write_staging(con, people[:120], seed=4)
    settings = Settings(home=tmp_path)
    linkage.run_annual_link(con, settings=settings, run_id="2023", runs_dir=tmp_path / "runs")
    before = _person_ids(con)
    # next year: every earlier row again plus a second SENR year, and 30 new students
    write_staging(con, people, seed=4, extra_year=True)
    summary = linkage.run_annual_link(con, settings=settings, run_id="2024",
                                      runs_dir=tmp_path / "runs")
    after = _person_ids(con)
    changed = [u for u, pid in before.items() if after.get(u) != pid]
    assert not changed, f"{len(changed)} units changed person_id"
    new_units = set(after) - set(before)
    assert new_units
    assert all(after[u] not in set(before.values()) for u in new_units)
    created = con.execute("SELECT count(*) FROM mdm.person_lineage WHERE run_id = '2024' "
                          "AND event = 'create'").fetchone()[0]
    assert created == summary.id_changes["created"] == len({after[u] for u in new_units})


def test_export_crosswalk_csv_and_parquet(linked, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    con, *_ = linked
    total = con.execute("SELECT count(*) FROM mdm.crosswalk").fetchone()[0]
    assert linkage.export_crosswalk(con, tmp_path / "x.csv") == total
    assert linkage.export_crosswalk(con, tmp_path / "x.parquet") == total
    assert pq.read_table(tmp_path / "x.parquet").column_names == [
        "source_system", "partner_org", "source_person_id", "person_id", "run_id"]
    lines = (tmp_path / "x.csv").read_text().splitlines()
    assert lines[0] == "source_system,partner_org,source_person_id,person_id,run_id"
    assert len(lines) == total + 1
    with pytest.raises(InputRejected):
        linkage.export_crosswalk(con, tmp_path / "x.txt")


def test_match_rate_floor_check(linked) -> None:  # type: ignore[no-untyped-def]
    con, *_ = linked
    ok = match_rate_floors(con, {("college", "calpads"): 0.5})
    assert ok.passed and ok.metadata["college->calpads"] >= 0.5
    bad = match_rate_floors(con, {("college", "calpads"): 1.01, ("ccgi", "college"): 0.0})
    assert not bad.passed and len(bad.failures) == 1


def test_evaluate_against_generated_truth(linked, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    con, people, *_ = linked
    pq.write_table(truth_table(people), tmp_path / "truth.parquet")
    result = linkage.evaluate(con, tmp_path / "truth.parquet")
    assert result.units_missing_from_crosswalk == 0
    assert result.precision > 0.95 and result.recall > 0.9
    assert result.twins_apart_rate == 1.0
    assert set(result.recall_by_group["has_double_surname"]) == {"true", "false"}
