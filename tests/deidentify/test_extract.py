"""Extracts: minimal, unlinkable across requests, k-anonymous, expiring, rotation-proof."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import deidentify
from core.errors import Conflict, Expired, InputRejected, IntegrityError_
from core.keys import KeyProvider
from core.requests import CohortFilter, RequestKind
from core.warehouse import connect_encrypted
from deidentify.generalise import LADDERS
from tests.deid_support import NOW, make_keys, make_student_year, request

PERSONS = 1500


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deid")


@pytest.fixture(scope="module")
def keys(home: Path) -> KeyProvider:
    return make_keys(home)


@pytest.fixture(scope="module")
def con(home: Path, keys: KeyProvider) -> duckdb.DuckDBPyConnection:
    connection = connect_encrypted(home / "warehouse.duckdb", keys.warehouse_key_hex(),
                                   temp_dir=home / "tmp")
    make_student_year(connection, PERSONS)
    return connection


def build(con: duckdb.DuckDBPyConnection, keys: KeyProvider, out: Path, **kwargs: object
          ) -> deidentify.ExtractResult:
    return deidentify.build_extract(con, request(**kwargs), keys, out, now=NOW,
                                   earlier_extracts={})  # type: ignore[arg-type]


def test_only_requested_variables_and_cohort(con: duckdb.DuckDBPyConnection, keys: KeyProvider,
                                             home: Path) -> None:
    result = build(con, keys, home / "out-a", request_id="R-cohort",
                   variables=["academic_year", "gender", "hs_graduate"],
                   cohort=CohortFilter(academic_years=["2022-23"],
                                       subgroup_equals={"homeless": False}))
    table = deidentify.open_extract(result.package_path, keys=keys, now=NOW).table()
    assert table.column_names == ["academic_year", "gender", "hs_graduate"]
    assert set(table.column("academic_year").to_pylist()) == {"2022-23"}
    expected = con.execute(
        "SELECT count(*) FROM analytics.student_year WHERE academic_year = '2022-23' "
        "AND NOT homeless").fetchone()
    assert expected is not None
    assert table.num_rows + result.suppressed_rows == expected[0]
    assert result.manifest["variables"] == table.column_names


def test_two_requests_share_no_pseudonym_and_a_rebuild_gives_the_same(
        con: duckdb.DuckDBPyConnection, keys: KeyProvider, home: Path) -> None:
    variables = ["person_id", "academic_year", "gender"]
    first = build(con, keys, home / "out-1", request_id="R-A", variables=variables)
    second = build(con, keys, home / "out-2", request_id="R-B", variables=variables)
    again = build(con, keys, home / "out-3", request_id="R-A", variables=variables)
    a = deidentify.open_extract(first.package_path, keys=keys, now=NOW).table()
    b = deidentify.open_extract(second.package_path, keys=keys, now=NOW).table()
    a2 = deidentify.open_extract(again.package_path, keys=keys, now=NOW).table()

    ids_a = set(a.column("pseudonym_id").to_pylist())
    ids_b = set(b.column("pseudonym_id").to_pylist())
    assert len(ids_a) == len(ids_b) == PERSONS  # same people in both
    assert not ids_a & ids_b  # ... under unrelated ids
    assert a2.equals(a)  # the same request rebuilt: same ids, same rows
    raw = {r[0] for r in con.execute("SELECT person_id FROM analytics.student_year").fetchall()}
    assert not raw & ids_a  # person_id itself never leaves
    # Same person, different ids: the row order (sorted by pseudonym) differs, the multiset of
    # per-person year sequences does not.
    def per_person(t: pa.Table) -> list[tuple[str, ...]]:
        seen: dict[str, list[str]] = defaultdict(list)
        for pid, year, gender in zip(*(t.column(c).to_pylist() for c in t.column_names),
                                     strict=True):
            seen[pid].append(f"{year}/{gender}")
        return sorted(tuple(sorted(v)) for v in seen.values())
    assert per_person(a) == per_person(b)


def _class_sizes(table: pa.Table, quasi: list[str]) -> dict[tuple[object, ...], set[str]]:
    classes: dict[tuple[object, ...], set[str]] = defaultdict(set)
    rows = table.select(["pseudonym_id", *quasi]).to_pylist()
    for row in rows:
        classes[tuple(row[q] for q in quasi)].add(row["pseudonym_id"])
    return classes


@pytest.mark.parametrize("k", [11, 25])
def test_k_anonymity_holds_on_the_decrypted_file(con: duckdb.DuckDBPyConnection,
                                                 keys: KeyProvider, home: Path, k: int) -> None:
    req = request(request_id=f"R-K{k}")
    result = deidentify.build_extract(con, req, keys, home / f"out-k{k}", k=k, now=NOW,
                                        earlier_extracts={})
    opened = deidentify.open_extract(result.package_path, keys=keys, now=NOW,
                                     out_dir=home / f"open-k{k}")
    table = opened.table()
    disclosure = opened.manifest["disclosure"]
    quasi = disclosure["quasi_identifiers"]
    # Every catalog quasi-identifier that was requested is covered.
    assert set(quasi) == {v for v in req.variables if v in LADDERS}
    classes = _class_sizes(table, quasi)
    assert classes and min(len(people) for people in classes.values()) >= k
    assert disclosure["smallest_class"] == min(len(p) for p in classes.values())
    assert table.num_rows == opened.manifest["rows"] == result.rows
    assert result.rows + result.suppressed_rows == PERSONS * 3
    assert result.suppressed_rows <= 0.02 * PERSONS * 3
    # Something had to be generalised on 1,500 people: the report says what.
    assert any(rung != q for q, rung in disclosure["generalisations"].items())
    assert disclosure["steps"]


def test_ungeneralised_rows_are_suppressed_and_counted(con: duckdb.DuckDBPyConnection,
                                                       keys: KeyProvider, home: Path) -> None:
    """With no suppression budget left to spend, small classes go and are counted."""
    req = request(request_id="R-supp", variables=["person_id", "school_code", "homeless"])
    result = deidentify.build_extract(con, req, keys, home / "out-s", k=11, now=NOW,
                                      max_suppression=1.0, earlier_extracts={})
    table = deidentify.open_extract(result.package_path, keys=keys, now=NOW).table()
    sizes = con.execute(
        "SELECT count(*) FILTER (WHERE n < 11) FROM (SELECT school_code, "
        "count(DISTINCT person_id) n FROM analytics.student_year GROUP BY ALL)").fetchone()
    assert result.disclosure is not None
    assert result.disclosure.generalisations == {"school_code": "school"}  # budget allowed it
    assert sizes is not None and sizes[0] > 0  # the data does have small schools ...
    assert result.suppressed_rows > 0  # ... whose rows were dropped
    assert table.num_rows + result.suppressed_rows == PERSONS * 3
    assert min(len(p) for p in _class_sizes(table, ["school_code"]).values()) >= 11


def test_rotation_keeps_old_extracts_readable(con: duckdb.DuckDBPyConnection, home: Path,
                                              tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    result = deidentify.build_extract(con, request(request_id="R-rot"), keys, tmp_path, now=NOW,
                                      earlier_extracts={})
    before = deidentify.open_extract(result.package_path, keys=keys, now=NOW).table()
    old_master = (tmp_path / "master.key").read_bytes()
    assert keys.rotate_master_key() == 2  # root data key + this extract's key
    assert (tmp_path / "master.key").read_bytes() != old_master
    after = deidentify.open_extract(result.package_path, keys=keys, now=NOW).table()
    assert after.equals(before)


def test_expired_extracts_refuse_to_open(con: duckdb.DuckDBPyConnection, keys: KeyProvider,
                                         home: Path, tmp_path: Path) -> None:
    req = request(request_id="R-exp", expires_at=NOW + timedelta(days=1))
    result = deidentify.build_extract(con, req, keys, home / "out-e", now=NOW, earlier_extracts={})
    deidentify.open_extract(result.package_path, keys=keys, now=NOW + timedelta(hours=23))
    for later in (NOW + timedelta(days=1), NOW + timedelta(days=400)):
        with pytest.raises(Expired):
            deidentify.open_extract(result.package_path, keys=keys, now=later,
                                    out_dir=tmp_path / "x")
    assert not list((tmp_path / "x").iterdir())  # nothing written
    key = deidentify.extract_data_key(keys, "R-exp")
    with pytest.raises(Expired):
        deidentify.open_extract(result.package_path, data_key=key, now=NOW + timedelta(days=2))
    # An operator can still audit it.
    verified = deidentify.verify_extract(result.package_path, keys=keys,
                                         now=NOW + timedelta(days=2))
    assert verified.expired
    # An expired request is not built at all.
    with pytest.raises(Expired):
        deidentify.build_extract(con, req, keys, home / "out-e", now=NOW + timedelta(days=3),
                                 earlier_extracts={})


def test_owner_opens_with_the_data_key_alone(con: duckdb.DuckDBPyConnection, keys: KeyProvider,
                                             home: Path, tmp_path: Path) -> None:
    result = build(con, keys, home / "out-o", request_id="R-own")
    key = deidentify.extract_data_key(keys, "R-own")
    opened = deidentify.open_extract(result.package_path, data_key=key, now=NOW,
                                     out_dir=tmp_path / "mine")
    names = sorted(p.name for p in (tmp_path / "mine").iterdir())
    assert names == ["data.csv", "data.parquet", "manifest.json"]
    assert opened.table().num_rows == result.rows
    csv_lines = (tmp_path / "mine" / "data.csv").read_text().splitlines()
    assert len(csv_lines) == result.rows + 1
    other = keys.stored_key("extract:someone-else")
    with pytest.raises(IntegrityError_):
        deidentify.open_extract(result.package_path, data_key=other, now=NOW)


def test_bad_requests_are_refused(con: duckdb.DuckDBPyConnection, keys: KeyProvider,
                                  home: Path) -> None:
    with pytest.raises(InputRejected, match="ssn"):
        build(con, keys, home / "bad", request_id="R-bad", variables=["person_id", "ssn"])
    with pytest.raises(InputRejected, match="request_id"):
        build(con, keys, home / "bad", request_id="../etc/passwd")
    with pytest.raises(Conflict):
        build(con, keys, home / "bad", request_id="R-agg", kind=RequestKind.AGGREGATE)
    assert not (home / "bad").exists() or not list((home / "bad").iterdir())


def test_aggregate_tables_are_packaged_and_scanned(keys: KeyProvider, home: Path) -> None:
    req = request(request_id="R-agg2", kind=RequestKind.AGGREGATE, variables=["hs_graduate"])
    table = pa.table({"reporting_lea": ["1100001", "1100002"], "students": [120, None],
                      "hs_graduate_rate": [0.81, None]})
    result = deidentify.package_table(table, req, keys, home / "agg", NOW)
    opened = deidentify.open_extract(result.package_path, keys=keys, now=NOW)
    assert opened.table().equals(table)
    assert opened.manifest["rows"] == 2
    leaky = table.append_column("person_id", pa.array(["P1", "P2"]))
    with pytest.raises(deidentify.IdentifierFound):
        deidentify.package_table(leaky, req, keys, home / "agg-leak", NOW)
    assert not (home / "agg-leak").exists()
    with pytest.raises(Conflict):
        deidentify.package_table(table, request(request_id="R-ind"), keys, home / "agg", NOW)


def test_a_generalised_column_is_named_after_what_it_holds() -> None:
    """issue 27: reporting_lea raised to county codes was released as 'reporting_lea'."""
    from deidentify import generalise
    from deidentify.extract import released_names

    plan = generalise.Plan(k=11, quasi_identifiers=["reporting_lea", "birth_year", "gender"],
                           levels={"reporting_lea": 1, "birth_year": 1, "gender": 0}, rows=0,
                           persons=0, suppressed_rows=0, classes=0, smallest_class=None,
                           max_suppression=0.05)
    outputs = ["academic_year", "reporting_lea", "birth_year", "gender"]
    assert released_names(outputs, plan) == {
        "academic_year": "academic_year", "reporting_lea": "county_code",
        "birth_year": "birth_year", "gender": "gender"}  # a band is still a birth year
    # the name is taken by a requested column: say both what it was and what it holds
    both = released_names([*outputs, "county_code"], plan)
    assert both["reporting_lea"] == "reporting_lea_as_county_code"
    assert both["county_code"] == "county_code"


def test_the_manifest_says_the_extract_rests_on_annual_links_only(
        con: duckdb.DuckDBPyConnection, keys: KeyProvider, home: Path) -> None:
    """Issue 28 item 4: an output says whether it uses provisional links; with provisional
    links waiting it says they are not in it."""
    con.execute("CREATE SCHEMA IF NOT EXISTS mdm")
    con.execute("CREATE OR REPLACE TABLE mdm.provisional_links AS SELECT 'ccgi' AS "
                "source_system, 'CCGI' AS partner_org, 'a1' AS source_person_id, "
                "'T-w1-000001' AS person_id, true AS new_person, 1.0 AS match_probability, "
                "true AS provisional, 'w1' AS run_id")
    try:
        result = deidentify.build_extract(con, request(request_id="R-basis"), keys,
                                          home / "out-basis", now=NOW, earlier_extracts={})
        opened = deidentify.open_extract(result.package_path, keys=keys, now=NOW,
                                         out_dir=home / "open-basis")
    finally:
        con.execute("DROP TABLE mdm.provisional_links")
    basis = opened.manifest["linkage"]
    assert basis["provisional_links_used"] is False and basis["provisional_links_pending"]
    assert "not in this output" in basis["note"]
