"""Two pieces of evidence for the cross-agency misses of issue 28 (bench_robustness.py at 5k,
profile ``all``): a short surname one keystroke off (ANGELA LIU / LUI, HANH BUI / BI, same
birth date, stayed apart), and a CCGI or CALPADS record without a birth date and a common
name (CARLOS GOMEZ), for which the graduating class its grade names is the birth-cohort
evidence left. Checked on hand-built staging rows: what lands in ``mdm.identities`` and
which comparison level a pair falls in. Neither is a veto, and a missing value is neutral.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from linkage.cohorts import class_of_columns
from linkage.model import CLASS_OF_DIFFERS_M, comparisons
from linkage.standardise import build_identities
from tests.link_support import identity_of, level_of, stage_table

ONE_KEYSTROKE = "surname one keystroke apart (Damerau-Levenshtein 1)"
SAME_CLASS = "same graduating class (grades, or a birth date's cohort)"
OTHER_CLASS = "another graduating class"
NEUTRAL = "both birth dates known, or no class to compare"


COHORT_TYPES = {"dob": pa.date32(), "class_of": pa.list_(pa.int32())}


def _class_level(con: duckdb.DuckDBPyConnection, left: dict[str, Any],
                 right: dict[str, Any]) -> str:
    return level_of(con, "class_of", left, right, COHORT_TYPES)


def _level(comparison: str, label: str) -> Any:
    found = next(c.get_comparison("duckdb") for c in comparisons()
                 if c.get_comparison("duckdb").output_column_name == comparison)
    return next(lv for lv in found.comparison_levels if lv.label_for_charts == label)


# -- a short surname one keystroke off -------------------------------------------------------

@pytest.mark.parametrize(("left", "right"), [
    ("LIU", "LUI"),  # two letters swapped
    ("BUI", "BI"),  # one dropped
    ("HWANG", "HWAMG"),  # one changed (a keyboard neighbour)
    ("ORTIZ", "ORTIIZ"),  # one doubled
])
def test_a_surname_one_keystroke_off_has_its_own_level(left: str, right: str) -> None:
    con = duckdb.connect()

    def side(surname: str) -> dict[str, Any]:
        return {"last_name": surname, "last_tokens": [surname], "last1": surname,
                "last2": surname, "given_tokens": ["ANGELA"], "guardian_tokens": None,
                "first_name": "ANGELA", "first_nick": ["ANGELA"]}

    assert level_of(con, "last_name", side(left), side(right)) == ONE_KEYSTROKE
    assert level_of(con, "last_name", side(right), side(left)) == ONE_KEYSTROKE


@pytest.mark.parametrize(("left", "right"), [
    ("LE", "LI"),  # two two-letter surnames: different families, not a slip
    ("GARCIA", "GARZA"),  # two edits
    ("NGUYEN", "NGUYEN"),  # equal: the exact level
])
def test_other_surname_pairs_are_not_one_keystroke(left: str, right: str) -> None:
    con = duckdb.connect()

    def side(surname: str) -> dict[str, Any]:
        return {"last_name": surname, "last_tokens": [surname], "last1": surname,
                "last2": surname, "given_tokens": ["HANH"], "guardian_tokens": None,
                "first_name": "HANH", "first_nick": ["HANH"]}

    assert level_of(con, "last_name", side(left), side(right)) != ONE_KEYSTROKE


# -- the graduating class a grade names ------------------------------------------------------

@pytest.fixture
def staged() -> duckdb.DuckDBPyConnection:
    """CALPADS: a senior, a student held back in grade 10, a kindergartner; CCGI: a senior
    with no birth date (logging in over the summer too), a junior; a college student."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    n = 5
    stage_table(con, "calpads_senr", {
        "reporting_lea": ["0161119"] * n,
        "ssid": ["1000000001", "1000000002", "1000000002", "1000000003", "1000000003"],
        "first_name": ["Carlos", "Ana", "Ana", "Leo", "Leo"], "middle_name": [None] * n,
        "last_name": ["Gomez", "Lopez", "Lopez", "Diaz", "Diaz"],
        "birth_date": [date(2006, 12, 14), date(2008, 1, 2), date(2008, 1, 2),
                       date(2018, 5, 5), date(2018, 5, 5)],
        "gender": ["M", "F", "F", "M", "M"],
        "academic_year_id": ["2023-2024", "2022-2023", "2023-2024", "2023-2024", "2023-2024"],
        "grade_level_code": ["12", "10", "10", "KN", ""],
        "file_id": ["f1"] * n, "line_no": list(range(1, n + 1))})
    stage_table(con, "ccgi_activity", {
        "ccgi_account_id": ["G1", "G1", "G2"], "ssid": [None] * 3,
        "first_name": ["Carlos", "Carlos", "Ana"], "last_name": ["Gomez", "Gomez", "Lopez"],
        "birth_date": [None, None, date(2008, 1, 2)], "gender": ["M", "M", "F"],
        "school_cds": ["01611190130229"] * 3, "grade_level": ["12", "12", "11"],
        "activity_week": [date(2023, 10, 2), date(2024, 7, 15), date(2023, 10, 2)],
        "file_id": ["f2"] * 3, "line_no": [2, 3, 4]})
    stage_table(con, "college_students", {
        "college_code": ["021"], "student_id": ["C1"], "ssid": [None], "first_name": ["Carlos"],
        "middle_name": [None], "last_name": ["Gomez"], "birth_date": [None], "gender": ["M"],
        "zip_code": ["94606"], "file_id": ["f3"], "line_no": [2]})
    build_identities(con, "t1", extras=[class_of_columns(con)])
    return con


def _class_of(con: duckdb.DuckDBPyConnection, system: str, unit: str) -> Any:
    return identity_of(con, system, unit)["class_of"]


def test_the_class_comes_from_calpads_grades_and_ccgi_weeks(staged) -> None:  # type: ignore[no-untyped-def]
    assert _class_of(staged, "calpads", "1000000001") == [2024]  # grade 12 in 2023-24
    assert _class_of(staged, "calpads", "1000000002") == [2025, 2026]  # held back in grade 10
    # a summer log-in still shows the grade of the year just ended: both classes are kept
    assert _class_of(staged, "ccgi", "G1") == [2024, 2025]
    assert _class_of(staged, "ccgi", "G2") == [2025]  # grade 11 in October 2023


def test_no_grade_is_no_class(staged) -> None:  # type: ignore[no-untyped-def]
    assert _class_of(staged, "calpads", "1000000003") is None  # kindergarten, blank grade
    assert _class_of(staged, "college", "C1") is None  # colleges report no grade


def _cohort(con: duckdb.DuckDBPyConnection, system: str, key: str) -> dict[str, Any]:
    found = identity_of(con, system, key)
    return {"class_of": found["class_of"], "dob": found["dob"]}


def _dated(dob: date | None) -> dict[str, Any]:
    """A record with a birth date and no grade (a college student)."""
    return {"class_of": None, "dob": dob}


def test_the_class_is_the_cohort_evidence_of_a_record_without_a_birth_date(staged) -> None:  # type: ignore[no-untyped-def]
    senior = _cohort(staged, "calpads", "1000000001")
    no_dob = _cohort(staged, "ccgi", "G1")
    assert no_dob["dob"] is None
    assert _class_level(staged, senior, no_dob) == SAME_CLASS
    # the CCGI account two years ahead: a different student
    two_ahead = {"class_of": [2022], "dob": None}
    assert _class_level(staged, senior, two_ahead) == OTHER_CLASS
    # against a birth date: January-August 2006 is the class of 2024, September on 2025
    assert _class_level(staged, no_dob, _dated(date(2006, 3, 1))) == SAME_CLASS
    assert _class_level(staged, _dated(date(2005, 10, 1)), no_dob) == SAME_CLASS
    assert _class_level(staged, _dated(date(2003, 5, 1)), no_dob) == OTHER_CLASS


def test_the_class_adds_nothing_when_both_birth_dates_are_known(staged) -> None:  # type: ignore[no-untyped-def]
    # the dob comparison weighs them already: counting the cohort again would count twice,
    # for a second SSID and for twins alike
    senior = _cohort(staged, "calpads", "1000000001")
    retained = _cohort(staged, "calpads", "1000000002")
    junior = _cohort(staged, "ccgi", "G2")
    assert _class_level(staged, retained, junior) == NEUTRAL
    assert _class_level(staged, senior, junior) == NEUTRAL
    assert _class_level(staged, senior, _dated(date(2006, 12, 14))) == NEUTRAL


def test_a_missing_grade_or_birth_date_or_ssid_is_neutral(staged) -> None:  # type: ignore[no-untyped-def]
    """Absence is never evidence: each missing value falls in its comparison's null level,
    which adds nothing to a pair's weight (neither for nor against)."""
    college, senior = identity_of(staged, "college", "C1"), identity_of(
        staged, "calpads", "1000000001")
    kinder = identity_of(staged, "calpads", "1000000003")
    no_dob = identity_of(staged, "ccgi", "G1")
    def cohort(found: dict[str, Any]) -> dict[str, Any]:
        return {"class_of": found["class_of"], "dob": found["dob"]}

    # a college record without a birth date names no class: nothing to weigh either way
    assert _class_level(staged, cohort(college), cohort(senior)) == NEUTRAL
    assert _class_level(staged, cohort(college), cohort(no_dob)) == NEUTRAL
    # a kindergartner names no class, but her birth date is evidence: born 2018, not 2006
    assert _class_level(staged, cohort(kinder), cohort(no_dob)) == OTHER_CLASS
    assert _class_level(staged, {**cohort(kinder), "dob": None}, cohort(no_dob)) == NEUTRAL
    assert _level("class_of", NEUTRAL).is_null_level
    assert level_of(staged, "dob", {"dob": no_dob["dob"], "dob_str": no_dob["dob_str"]},
                    {"dob": senior["dob"], "dob_str": senior["dob_str"]}) == "dob is NULL"
    assert level_of(staged, "ssid", {"ssid": no_dob["ssid"]},
                    {"ssid": senior["ssid"]}) == "ssid is NULL"
    for comparison in ("dob", "ssid"):
        assert _level(comparison, f"{comparison} is NULL").is_null_level


def test_another_class_is_weighed_never_a_veto() -> None:
    # a student held back names another class in one system: EM, seeing few such true
    # pairs, would drive m to ~0 and make "another class" a veto
    level = _level("class_of", OTHER_CLASS)
    assert level.m_probability == CLASS_OF_DIFFERS_M and level._fix_m_probability
    assert CLASS_OF_DIFFERS_M > 0


# -- a birth day defaulted to the 15th -------------------------------------------------------

DEFAULT_DAY = "same year and month, one day the 15th (a default day)"


def _dob(value: date) -> dict[str, Any]:
    return {"dob": value, "dob_str": value.strftime("%Y%m%d")}


def test_a_birth_day_defaulted_to_the_15th_has_its_own_level() -> None:
    # JONATHAN GUTIERREZ born 29 April 2004, typed 15 April at the college (10k, profile all):
    # "within 31 days" before, where namesakes born weeks apart sit
    con = duckdb.connect()
    assert level_of(con, "dob", _dob(date(2004, 4, 29)), _dob(date(2004, 4, 15))) == DEFAULT_DAY
    assert level_of(con, "dob", _dob(date(2002, 12, 15)), _dob(date(2002, 12, 1))) == DEFAULT_DAY
    # the 15th of another month, or no 15th at all: not a defaulted day
    assert level_of(con, "dob", _dob(date(2004, 4, 29)), _dob(date(2004, 5, 15))) == (
        "within 31 days")
    assert level_of(con, "dob", _dob(date(2004, 4, 29)), _dob(date(2004, 4, 10))) == (
        "within 31 days")


def test_a_date_weeks_off_is_weighed_never_a_veto() -> None:
    # with one-day slips and defaulted days in levels of their own, EM drove m of "within 31
    # days" to 3e-12 at 10k students (-32 bits)
    from linkage.model import DOB_WEEKS_OFF_M
    level = _level("dob", "within 31 days")
    assert level.m_probability == DOB_WEEKS_OFF_M and level._fix_m_probability


# -- names swapped in one record, with a nickname or a typo ----------------------------------

SWAPPED = "surname found in the other's given names (names swapped)"


def _names(first: str, last: str, nick: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"first_name": first, "given_tokens": [first], "first_nick": [first, *nick],
            "last_name": last, "last_tokens": [last], "last1": last, "last2": last,
            "guardian_tokens": None}


def test_a_swap_counts_the_second_crossing_not_the_first_twice() -> None:
    con = duckdb.connect()
    # a twin's CCGI record typed swapped against her sister: MACKENZIE is the one token in
    # common, and the first-name level counts it; SYDNEY / SAMANTHA is no second crossing
    swapped_twin, sister = _names("MACKENZIE", "SYDNEY"), _names("SAMANTHA", "MACKENZIE")
    assert level_of(con, "first_name", swapped_twin, sister) == (
        "first name found in the other's surname (names swapped)")
    assert level_of(con, "last_name", swapped_twin, sister) != SWAPPED
    assert level_of(con, "last_name", sister, swapped_twin) != SWAPPED
    # the same person swapped, with a typo or a nickname on the other crossing
    assert level_of(con, "last_name", _names("SAFORD", "TYLER"),
                    _names("TYLER", "SANFORD")) == SWAPPED
    assert level_of(con, "last_name", _names("ASH", "CASTRO"),
                    _names("CASTRO", "ASHLEY")) == SWAPPED
    assert level_of(con, "last_name", _names("CASTRO", "ASHLEY"),
                    _names("ASH", "CASTRO", ("ASHLEY",))) == SWAPPED


def test_a_swap_with_a_changed_name_is_blocked_by_the_crossed_initials() -> None:
    from linkage.model import CANDIDATE_RULES
    con = duckdb.connect()
    con.execute("""CREATE TABLE ids AS SELECT * FROM (VALUES
        (1, 'CASTRO', 'ASHLEY', DATE '2005-02-27'), (2, 'ASH', 'CASTRO', DATE '2005-02-27'),
        (3, 'TYLER', 'SANFORD', DATE '2008-02-16'), (4, 'SAFORD', 'TYLER', DATE '2008-02-16'),
        (5, 'ANA', 'ARCE', DATE '2008-02-16'), (6, 'ANA', 'ARCE', DATE '2008-02-16'))
        AS t(unit_id, first_name, last_name, dob)""")
    rule = next(r for r in CANDIDATE_RULES if r.name == "dob, first and last initials crossed")
    found = set(con.execute(f"SELECT l.unit_id, r.unit_id FROM ids l JOIN ids r "
                            f"ON {rule.condition} AND l.unit_id < r.unit_id").fetchall())
    # ANA ARCE twice: equal initials, the plain initials rule's pair
    assert found == {(1, 2), (3, 4)}


def test_a_first_name_with_its_first_two_letters_swapped_has_its_own_level() -> None:
    # UJAN / JUAN ANTONIO CARDENAS, same birth date (50k, profile all): Jaro-Winkler 0.917
    con = duckdb.connect()
    swapped = "first two letters swapped (UJAN / JUAN)"
    for typed, legal in (("UJAN", "JUAN"), ("OJHN", "JOHN"), ("HCRISTIAN", "CHRISTIAN")):
        assert level_of(con, "first_name", _names(typed, "CARDENAS"),
                        _names(legal, "CARDENAS")) == swapped
    # another name, not a slip: MARIA / MARIO, JOSE / JOSUE
    assert level_of(con, "first_name", _names("MARIA", "CRUZ"), _names("MARIO", "CRUZ")) != (
        swapped)
    assert level_of(con, "first_name", _names("JOSE", "CRUZ"), _names("JOSUE", "CRUZ")) != (
        swapped)


def test_a_swap_with_a_year_slip_or_one_name_crossed_is_blocked() -> None:
    """Never blocked at 50k students (clean profile), though the model scores them above the
    threshold: RAMIREZ MARIA / MARIA RAMIREZ with the birth year one off (the swap rule wanted
    the year or ZIP), and MEDINA ASHLEY / LEE MEDINA (one name crossed, the other changed)."""
    from linkage.model import CANDIDATE_RULES
    con = duckdb.connect()
    con.execute("""CREATE TABLE ids AS SELECT *, strftime(dob, '%Y%m%d') AS dob_sym,
            year(dob) AS birth_year, NULL::VARCHAR AS zip FROM (VALUES
        (1, 'MARIA', 'RAMIREZ', DATE '2004-04-05'), (2, 'RAMIREZ', 'MARIA', DATE '2005-04-05'),
        (3, 'MEDINA', 'ASHLEY', DATE '2003-10-03'), (4, 'LEE', 'MEDINA', DATE '2003-10-03'),
        (5, 'ANA', 'LEE', DATE '2003-10-03'), (6, 'LEE', 'ANA', DATE '2001-01-09'))
        AS t(unit_id, first_name, last_name, dob)""")
    found: set[tuple[int, int]] = set()
    for rule in CANDIDATE_RULES:
        if rule.name in ("first_name = last_name swapped, birth_year, zip or month + day",
                         "first_name = last_name crossed, dob",
                         "last_name = first_name crossed, dob"):
            found |= set(con.execute(f"SELECT l.unit_id, r.unit_id FROM ids l JOIN ids r "
                                     f"ON {rule.condition} AND l.unit_id < r.unit_id"
                                     ).fetchall())
    assert {(1, 2), (3, 4)} <= found
    # LEE ANA born another day and year: a swap with nothing else in common is no candidate
    assert (5, 6) not in found


def test_a_compound_surname_cut_to_its_first_part_with_a_day_off_is_blocked() -> None:
    """Never blocked at 50k students (profile all): OSCAR ZEPEDA / OSCAR ZEPEDA CARDENAS born
    a day apart (the first-and-last-name rules wanted the whole surname equal, the surname
    rules the month and day)."""
    from linkage.model import CANDIDATE_RULES
    con = duckdb.connect()
    con.execute("""CREATE TABLE ids AS SELECT *, year(dob) AS birth_year,
            string_split(last_name, ' ')[1] AS last1 FROM (VALUES
        (1, 'OSCAR', 'ZEPEDA', DATE '2004-06-27'),
        (2, 'OSCAR', 'ZEPEDA CARDENAS', DATE '2004-06-26'),
        (3, 'ANGEL', 'CARDENAS', DATE '2003-09-07'), (4, 'ANGEL', 'CARDENAS', DATE '2003-09-06'),
        (5, 'OSCAR', 'ZEPEDA LUNA', DATE '2004-07-27'))
        AS t(unit_id, first_name, last_name, dob)""")
    rule = next(r for r in CANDIDATE_RULES if r.name == "first_name, last1, birth_year, month(dob)")
    found = set(con.execute(f"SELECT l.unit_id, r.unit_id FROM ids l JOIN ids r "
                            f"ON {rule.condition} AND l.unit_id < r.unit_id").fetchall())
    # ANGEL CARDENAS twice: equal surnames, the whole-surname rule's pair; OSCAR ZEPEDA LUNA
    # born in another month: no candidate
    assert found == {(1, 2)}
