"""Identity evidence beyond name and birth date: schools, guardian surnames, surname forms.

Each piece is checked on hand-built staging rows (no training): what lands in
``mdm.identities``, which comparison level a pair falls in, and which blocking rule finds it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pytest

from linkage.guardians import guardian_columns
from linkage.model import CANDIDATE_RULES
from linkage.schools import school_columns
from linkage.standardise import build_identities
from tests.link_support import identity_of, level_of, stage_table

LEA_A, LEA_B = "0134445", "3367090"
SCHOOL_CODE = "3330512"  # the 7-digit school code, unique statewide
SCHOOL = "0134445" + SCHOOL_CODE  # CDS code = county + district + school


@pytest.fixture
def staged() -> duckdb.DuckDBPyConnection:
    """Two CALPADS units (one with two guardians), one CCGI account, one college student."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    person: dict[str, list[Any]] = {"first_name": ["Ana", "Luis"], "middle_name": [None, None],
              "last_name": ["Zúñiga", "Lopez"], "birth_date": [date(2006, 3, 4)] * 2,
              "gender": ["F", "M"]}
    stage_table(con, "calpads_senr", {
        "reporting_lea": [LEA_A, LEA_B], "ssid": ["1000000001", "1000000002"], **person,
        "school_of_attendance": ["3330512", "3336217"], "file_id": ["f1"] * 2,
        "line_no": [1, 2]})
    stage_table(con, "calpads_sinf", {
        "reporting_lea": [LEA_A, LEA_B], "ssid": ["1000000001", "1000000002"], **person,
        "guardian_1_last_name": ["González-Ruiz", None],
        "guardian_2_last_name": ["de la Zúñiga", None], "file_id": ["f2"] * 2,
        "line_no": [1, 2]})
    stage_table(con, "ccgi_activity", {
        "ccgi_account_id": ["G1"], "ssid": [None], "first_name": ["Ana"],
        "last_name": ["Gonzalez"], "birth_date": [date(2006, 3, 4)], "gender": ["F"],
        "school_cds": [SCHOOL], "file_id": ["f3"], "line_no": [2]})
    # C1 leaves the high school blank; C2 names the school of the first CALPADS unit
    stage_table(con, "college_students", {
        "college_code": ["061", "061"], "student_id": ["C1", "C2"], "ssid": [None, None],
        "first_name": ["Ana", "Luis"], "middle_name": [None, None],
        "last_name": ["Gonzalez Zuniga", "Lopez"], "birth_date": [date(2006, 3, 4)] * 2,
        "gender": ["F", "M"], "zip_code": ["94606"] * 2, "high_school_cds": [None, SCHOOL],
        "file_id": ["f4"] * 2, "line_no": [2, 3]})
    build_identities(con, "t1", extras=[school_columns(con), guardian_columns(con)])
    return con


def test_schools_come_from_enrolments_and_the_ccgi_account(staged) -> None:  # type: ignore[no-untyped-def]
    calpads = identity_of(staged, "calpads", "1000000001")
    assert calpads["enrolled_schools"] == [SCHOOL_CODE] and calpads["reported_schools"] is None
    ccgi = identity_of(staged, "ccgi", "G1")
    assert ccgi["reported_schools"] == [SCHOOL_CODE] and ccgi["enrolled_schools"] is None
    college = identity_of(staged, "college", "C1")
    assert college["enrolled_schools"] is None and college["reported_schools"] is None
    named = identity_of(staged, "college", "C2")  # CCCApply's high school last attended
    assert named["reported_schools"] == [SCHOOL_CODE] and named["enrolled_schools"] is None


def test_a_college_file_without_the_high_school_column_names_no_school() -> None:
    """An older college layout (no ``high_school_cds``): its records are neutral, not apart."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    stage_table(con, "college_students", {
        "college_code": ["061"], "student_id": ["C1"], "ssid": [None], "first_name": ["Ana"],
        "middle_name": [None], "last_name": ["Lopez"], "birth_date": [date(2006, 3, 4)],
        "gender": ["F"], "zip_code": ["94606"], "file_id": ["f4"], "line_no": [2]})
    build_identities(con, "t1", extras=[school_columns(con)])
    assert identity_of(con, "college", "C1")["reported_schools"] is None


def test_a_charter_school_meets_its_cds_code() -> None:
    """A charter reports as its own LEA (its code = its school code) while CCGI names its CDS
    code under the authorising district: both come down to the same school code."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    stage_table(con, "calpads_senr", {
        "reporting_lea": ["1975309"], "ssid": ["1000000001"], "first_name": ["Ana"],
        "middle_name": [None], "last_name": ["Lopez"], "birth_date": [date(2006, 3, 4)],
        "gender": ["F"], "school_of_attendance": ["1975309"], "file_id": ["f1"],
        "line_no": [1]})
    stage_table(con, "ccgi_activity", {
        "ccgi_account_id": ["G1", "G2"], "ssid": [None, None], "first_name": ["Ana"] * 2,
        "last_name": ["Lopez"] * 2, "birth_date": [date(2006, 3, 4)] * 2, "gender": ["F"] * 2,
        "school_cds": ["19642121975309", "19642120000000"], "file_id": ["f3"] * 2,
        "line_no": [2, 3]})
    build_identities(con, "t1", extras=[school_columns(con)])
    assert identity_of(con, "calpads", "1000000001")["enrolled_schools"] == ["1975309"]
    assert identity_of(con, "ccgi", "G1")["reported_schools"] == ["1975309"]
    assert identity_of(con, "ccgi", "G2")["reported_schools"] is None  # a district office


def test_guardian_surnames_are_tokenised_per_calpads_unit(staged) -> None:  # type: ignore[no-untyped-def]
    # both guardians, accents dropped, compound split, particles ignored
    assert identity_of(staged, "calpads", "1000000001")["guardian_tokens"] == [
        "GONZALEZ", "RUIZ", "ZUNIGA"]
    assert identity_of(staged, "calpads", "1000000002")["guardian_tokens"] is None
    assert identity_of(staged, "ccgi", "G1")["guardian_tokens"] is None


_SURNAME_COLUMNS = ("last_name", "last_tokens", "last1", "last2", "given_tokens",
                    "guardian_tokens")


def _pick(identity: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {c: identity[c] for c in columns}


def test_guardian_surname_bridges_two_kept_surnames(staged) -> None:  # type: ignore[no-untyped-def]
    calpads = _pick(identity_of(staged, "calpads", "1000000001"), _SURNAME_COLUMNS)
    ccgi = _pick(identity_of(staged, "ccgi", "G1"), _SURNAME_COLUMNS)
    # ZUNIGA (CALPADS, guardian GONZALEZ) against GONZALEZ (CCGI): either order
    assert level_of(staged, "last_name", calpads, ccgi) == (
        "surname is a guardian's surname on the other record")
    assert level_of(staged, "last_name", ccgi, calpads) == (
        "surname is a guardian's surname on the other record")


def test_which_part_of_a_compound_surname_was_kept(staged) -> None:  # type: ignore[no-untyped-def]
    college = _pick(identity_of(staged, "college", "C1"), _SURNAME_COLUMNS)  # GONZALEZ ZUNIGA
    first_kept = _pick(identity_of(staged, "ccgi", "G1"), _SURNAME_COLUMNS)  # GONZALEZ
    last_kept = _pick(identity_of(staged, "calpads", "1000000001"), _SURNAME_COLUMNS)  # ZUNIGA
    assert level_of(staged, "last_name", first_kept, college) == (
        "one record keeps only the first surname of the other's two")
    assert level_of(staged, "last_name", college, last_kept) == (
        "one record keeps only the last surname of the other's two")


def test_school_level_is_neutral_for_two_calpads_units(staged) -> None:  # type: ignore[no-untyped-def]
    columns = ("enrolled_schools", "reported_schools")
    a = _pick(identity_of(staged, "calpads", "1000000001"), columns)
    b = _pick(identity_of(staged, "calpads", "1000000002"), columns)
    ccgi = _pick(identity_of(staged, "ccgi", "G1"), columns)
    college = _pick(identity_of(staged, "college", "C1"), columns)
    assert level_of(staged, "school", a, ccgi) == (
        "school a record names (CCGI, college) is one the other attended")
    assert level_of(staged, "school", ccgi, b) == "All other comparisons"
    neutral = "no school to compare (none named, two CALPADS units)"
    assert level_of(staged, "school", a, b) == neutral  # a move is how a second SSID comes
    assert level_of(staged, "school", ccgi, college) == neutral


def test_the_high_school_a_college_record_names_is_evidence(staged) -> None:  # type: ignore[no-untyped-def]
    """A college record naming a school weighs it against CALPADS enrolments and against the
    school a CCGI account names; a college record that names none stays neutral."""
    columns = ("enrolled_schools", "reported_schools")
    named = _pick(identity_of(staged, "college", "C2"), columns)
    blank = _pick(identity_of(staged, "college", "C1"), columns)
    a = _pick(identity_of(staged, "calpads", "1000000001"), columns)
    b = _pick(identity_of(staged, "calpads", "1000000002"), columns)
    ccgi = _pick(identity_of(staged, "ccgi", "G1"), columns)
    shared = "school a record names (CCGI, college) is one the other attended"
    assert level_of(staged, "school", named, a) == shared
    assert level_of(staged, "school", b, named) == "All other comparisons"
    assert level_of(staged, "school", named, ccgi) == shared
    neutral = "no school to compare (none named, two CALPADS units)"
    assert level_of(staged, "school", blank, a) == neutral  # absence is not evidence
    assert level_of(staged, "school", blank, named) == neutral


def test_swapped_names_with_a_compound_surname_are_blocked_together() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA mdm")
    con.execute("""CREATE TABLE mdm.identities AS SELECT * FROM (VALUES
        (1, 'FRANCISCO', ['LOPEZ', 'AGUILAR'], 'LOPEZ', '20060920'),
        (2, 'LOPEZ', ['FRANCISCO'], 'FRANCISCO', '20060920'),
        (3, 'MARIA', ['FRANCISCO'], 'FRANCISCO', '20060920'),
        (4, 'RAMIREZ', ['MARIANA'], 'MARIANA', '20040422'),
        (5, 'MARIANA', ['HERNANDEZ', 'RAMIREZ'], 'HERNANDEZ', '20040422'))
        AS t(unit_id, first_name, last_tokens, last1, dob_sym)""")
    swapped = [r for r in CANDIDATE_RULES if "swapped with a surname token" in r.name]
    assert len(swapped) == 2

    def pairs(condition: str) -> set[tuple[int, int]]:
        return set(con.execute(  # type: ignore[arg-type]
            f"SELECT l.unit_id, r.unit_id FROM mdm.identities l JOIN mdm.identities r "
            f"ON {condition} AND l.unit_id < r.unit_id").fetchall())

    # MARIA FRANCISCO is no swap of FRANCISCO LOPEZ AGUILAR; the second surname kept first
    # (RAMIREZ MARIANA, lower id) needs the rule written the other way round
    assert pairs(swapped[0].condition or "") == {(1, 2)}
    assert pairs(swapped[1].condition or "") >= {(4, 5)}
    row = con.execute(swapped[1].count_sql()).fetchone()
    assert row is not None and int(row[0]) == len(pairs(swapped[1].condition or ""))


def test_zip_area_level_between_exact_and_else(staged) -> None:  # type: ignore[no-untyped-def]
    def level(left: str | None, right: str | None) -> str:
        return level_of(staged, "zip", {"zip": left}, {"zip": right})

    assert level("94606", "94606") == "Exact match on zip"
    assert level("94606", "94621") == "same 3-digit ZIP area"
    assert level("94606", "90022") == "All other comparisons"
    assert level(None, "94606") == "zip is NULL"


def test_spanish_hypocorisms_are_nickname_equivalent(staged) -> None:  # type: ignore[no-untyped-def]
    from linkage.names import nickname_forms

    def level(left: str, right: str) -> str:
        side = {n: {"first_name": n, "first_nick": nickname_forms(n), "given_tokens": [n],
                    "last_tokens": ["LOPEZ"]} for n in (left, right)}
        return level_of(staged, "first_name", side[left], side[right])

    nick = "nickname-equivalent (nicknames table)"
    assert level("PEPE", "JOSE") == nick and level("JOSE", "PEPE") == nick
    assert level("CHUY", "JESUS") == nick and level("LUPITA", "GUADALUPE") == nick
    assert level("PEPE", "JESUS") != nick


def test_joined_compound_is_split_into_tokens_from_the_data() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    surnames = ["Garcia"] * 12 + ["Lopez"] * 12 + ["GarciaLopez", "Woodward"]
    n = len(surnames)
    stage_table(con, "college_students", {
        "college_code": ["061"] * n, "student_id": [f"C{i}" for i in range(n)],
        "ssid": [None] * n, "first_name": ["Ana"] * n, "middle_name": [None] * n,
        "last_name": surnames, "birth_date": [date(2006, 3, 4)] * n, "gender": ["F"] * n,
        "zip_code": ["94606"] * n, "file_id": ["f"] * n, "line_no": list(range(2, n + 2))})
    build_identities(con, "t1")
    joined = identity_of(con, "college", f"C{n - 2}")
    # tokens split for the surname levels and blocking; the surname itself is kept as sent
    assert joined["last_tokens"] == ["GARCIA", "LOPEZ"]
    assert (joined["last1"], joined["last2"], joined["last_name"]) == (
        "GARCIA", "LOPEZ", "GARCIALOPEZ")
    assert identity_of(con, "college", f"C{n - 1}")["last_tokens"] == ["WOODWARD"]

    def surname(identity: dict[str, Any]) -> dict[str, Any]:
        return {c: identity.get(c) for c in _SURNAME_COLUMNS}  # no guardians: college only

    garcia = surname(identity_of(con, "college", "C0"))
    assert level_of(con, "last_name", garcia, surname(joined)) == (
        "one record keeps only the first surname of the other's two")
