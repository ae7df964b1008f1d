"""The blocking-rule cap at the state's size: a rule too wide for the cap is narrowed, not
dropped, so the true pairs only it finds are still scored.

Most rules' pairs grow with the square of the records, the cap (3 pairs per record) only
linearly: at 100 % of the state ``last1, dob_sym``, the one rule that finds a college
application's nickname (BILL / WILLIAM, same surname and birth date, no SSID), is over the cap.
Here a small world is given a cap that rule does not fit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from linkage import cost_sample, model
from linkage.identity_extras import identity_extras
from linkage.standardise import build_identities
from tests.link_fixtures import NICK, make_population, truth_table, write_staging
from tests.link_support import stage_table

WIDE = "last1, dob_sym"


def _identities(n: int = 400) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    people = make_population(n, seed=3)
    write_staging(con, people)
    con.register("_truth", truth_table(people))
    con.execute("CREATE TABLE truth AS SELECT source_system, source_person_id, true_person_id "
                "FROM _truth")
    build_identities(con, "cap", extras=identity_extras(con))
    return con


def _blocked(con: duckdb.DuckDBPyConnection, rules: list[model.Rule]) -> set[tuple[str, str]]:
    """(source_person_id, source_person_id) of every pair the rules block."""
    con.execute("CREATE OR REPLACE VIEW _cap_input AS "
                "SELECT unit_id AS unique_id, * FROM mdm.identities")
    rows = con.execute(f"""
        SELECT l.source_person_id, r.source_person_id
        FROM ({model.blocked_pairs_sql(rules, '_cap_input')}) b
        JOIN mdm.identities l ON l.unit_id = b.join_key_l
        JOIN mdm.identities r ON r.unit_id = b.join_key_r""").fetchall()
    return {(str(a), str(b)) for a, b in rows} | {(str(b), str(a)) for a, b in rows}


def _nickname_pairs(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(CALPADS SSID, college id) of the college records that carry a nickname and no SSID."""
    nicks = ", ".join(f"'{v}'" for v in NICK.values())
    rows = con.execute(f"""
        SELECT k.source_person_id, c.source_person_id
        FROM mdm.identities c JOIN truth tc USING (source_system, source_person_id)
        JOIN truth tk ON tk.true_person_id = tc.true_person_id
        JOIN mdm.identities k ON k.source_system = tk.source_system
         AND k.source_person_id = tk.source_person_id
        WHERE c.source_system = 'college' AND k.source_system = 'calpads'
          AND c.ssid IS NULL AND c.first_name IN ({nicks}) AND k.first_name <> c.first_name
          AND k.last_name = c.last_name AND k.dob = c.dob""").fetchall()
    return {(str(a), str(b)) for a, b in rows}


def _cap_between(monkeypatch: pytest.MonkeyPatch, con: duckdb.DuckDBPyConnection,
                 records: int) -> tuple[int, int]:
    """A cap under ``last1, dob_sym``'s own pairs and over its gender-narrowed pairs."""
    rule = next(r for r in model.CANDIDATE_RULES if r.name == WIDE)
    wide = model._count(con, rule)
    narrow = model._count(con, rule.narrowed(model.GENDER))
    assert narrow < wide
    monkeypatch.setattr(model, "MIN_CAP_PAIRS", 0)
    monkeypatch.setattr(model, "MAX_PAIRS_PER_RECORD", (wide + narrow) / 2 / records)
    return wide, narrow


def test_a_rule_over_the_cap_is_narrowed_and_its_pairs_still_blocked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    con = _identities()
    records = int(con.execute("SELECT count(*) FROM mdm.identities").fetchone()[0])  # type: ignore[index]
    wanted = _nickname_pairs(con)
    assert len(wanted) >= 5  # the fixture writes nicknames on college records
    all_rules = _blocked(con, list(model.CANDIDATE_RULES))
    assert wanted <= all_rules  # uncapped, the rules find every one
    wide, narrow = _cap_between(monkeypatch, con, records)

    chosen = model.measure_rules(con, records)
    choice = next(c for _, c in chosen if c.rule.startswith(WIDE + " "))
    assert choice.kept and choice.narrowed_by == "gender"
    assert (choice.pairs, choice.wide_pairs) == (narrow, wide)
    kept = [rule for rule, c in chosen if c.kept]
    # what dropping every rule over the cap blocked (the code before): none of them, since
    # last1, dob_sym is the only rule that finds a nickname pair
    without = _blocked(con, [r for r in model.CANDIDATE_RULES
                             if r.name in {k.name for k in kept}])
    assert not wanted & without
    assert wanted <= _blocked(con, kept)


def test_a_missing_gender_never_keeps_a_pair_out_of_a_narrowed_rule() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging")
    stage_table(con, "college_students", {
        "college_code": ["061"] * 3, "student_id": ["C0", "C1", "C2"], "ssid": [None] * 3,
        "first_name": ["Bill", "William", "Will"], "middle_name": [None] * 3,
        "last_name": ["Garcia"] * 3,
        "birth_date": pa.array([date(2005, 8, 31)] * 3, pa.date32()),
        "gender": ["M", None, "F"], "zip_code": ["94110"] * 3,
        "file_id": ["f"] * 3, "line_no": [2, 3, 4]})
    build_identities(con, "g1")
    rule = next(r for r in model.CANDIDATE_RULES if r.name == WIDE).narrowed(model.GENDER)
    # C0 (M) and C2 (F) differ; C1 has no gender and pairs with both
    assert _blocked(con, [rule]) >= {("C0", "C1"), ("C1", "C2")}
    assert ("C0", "C2") not in _blocked(con, [rule])
    assert model._count(con, rule) == 2  # the GROUP BY count agrees with the join


def test_a_custom_rule_whose_join_is_too_large_is_dropped_without_running_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """At the state's shape three custom rules' joins make billions of rows before their
    filters (the link spent over 30 minutes materialising them): the join's rows, counted
    from GROUP BY counts, decide before any join runs. The rows equal what the join makes."""
    con = _identities()
    records = int(con.execute("SELECT count(*) FROM mdm.identities").fetchone()[0])  # type: ignore[index]
    priced = {r.name: int(con.execute(r.join_rows_sql() or "").fetchone()[0])  # type: ignore[index]
              for r in model.CANDIDATE_RULES if r.keys}
    rule = next(r for r in model.CANDIDATE_RULES if r.name == "first_name, dob_sym")
    rows = priced[rule.name]
    assert rows == _key_join_rows(con, rule) > records
    # a limit this rule exceeds: it and every rule over it are dropped, unrun; the rest run
    monkeypatch.setattr(model, "MAX_JOIN_ROWS_PER_RECORD", (rows - 1) / records)
    over = {name for name, n in priced.items() if n >= rows}
    assert rule.name in over and len(over) < len(priced) / 2
    ran: list[str] = []
    monkeypatch.setattr(model, "_count", lambda c, r: ran.append(r.name) or 0)
    chosen = dict((r.name, c) for r, c in model.measure_rules(con, records))
    for name in over:
        assert (chosen[name].kept, chosen[name].pairs, chosen[name].join_rows) == (
            False, 0, priced[name])
        assert name not in ran
    assert all(c.join_rows is None for name, c in chosen.items() if name not in over)
    # every custom rule has its join keys (a rule without them could never be bounded)
    assert all(r.keys for r in model.CANDIDATE_RULES if r.condition is not None)


def _plain_pairs(con: duckdb.DuckDBPyConnection, condition: str) -> set[tuple[int, int]]:
    rows = con.execute(f"SELECT l.unit_id, r.unit_id FROM mdm.identities l "
                       f"JOIN mdm.identities r ON ({condition}) AND l.unit_id < r.unit_id")
    return {(int(a), int(b)) for a, b in rows.fetchall()}


def _rule_pairs(con: duckdb.DuckDBPyConnection, rule: model.Rule) -> list[tuple[int, int]]:
    sql = rule.pairs_sql("l.unit_id, r.unit_id", "mdm.identities",
                         rule.creator().get_blocking_rule("duckdb").blocking_rule_sql,
                         "unit_id")
    return [(int(a), int(b)) for a, b in con.execute(sql).fetchall()]


def _key_join_rows(con: duckdb.DuckDBPyConnection, rule: model.Rule, where: str = "") -> int:
    keys = " AND ".join(f"{k.format(s='l.')} = {(rule.keys_r or rule.keys)[i].format(s='r.')}"
                        for i, k in enumerate(rule.keys))
    row = con.execute(f"SELECT count(*) FROM mdm.identities l JOIN mdm.identities r "
                      f"ON {keys} {where}").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("name", ["first_name, last_name, one dob missing",
                                  "first_name, surname prefix (3), one dob missing"])
def test_a_missing_birth_date_rule_joins_from_the_undated_records_with_the_same_pairs(
        name: str) -> None:
    """At the state's shape the plain self-join on first and last name made 8.8 billion rows
    for pairs one of whose records has no birth date (a few per cent): the rule was dropped
    and an undated college record was blocked by the ZIP rules alone. Joined from the
    undated records, it costs their count times the block."""
    con = _identities()
    # the fixture's records all carry a birth date: take it from one in six
    con.execute("UPDATE mdm.identities SET dob = NULL WHERE unit_id % 6 = 0")
    rule = next(r for r in model.CANDIDATE_RULES if r.name == name)
    assert rule.condition is not None and rule.sparse
    made = _rule_pairs(con, rule)
    assert len(made) == len(set(made))  # no pair twice
    assert set(made) == _plain_pairs(con, rule.condition)
    assert made  # the fixture has undated records that meet their namesakes
    assert model._count(con, rule) == len(made)
    assert model._count(con, rule.narrowed(model.GENDER)) == len(
        _plain_pairs(con, f"{rule.condition} AND {model.GENDER.condition()}"))
    # its price is the undated records' joins, both ways, far below the plain join's
    sql = rule.join_rows_sql()
    assert sql is not None
    priced = int(con.execute(sql).fetchone()[0])  # type: ignore[index]
    assert priced == 2 * _key_join_rows(con, rule, "WHERE l.dob IS NULL")
    assert priced < _key_join_rows(con, rule) / 3


def test_a_birth_year_one_off_rule_is_two_joins_on_the_year_with_the_pairs_of_one() -> None:
    """``abs(year difference) = 1`` joined on the surname and the month and day alone (2.3
    billion rows at the state's shape, dropped); one rule per direction joins on the year."""
    con = _identities()
    # the fixture's birth years are all right: move one record in five a year on
    con.execute("UPDATE mdm.identities SET birth_year = birth_year + 1 WHERE unit_id % 5 = 0")
    later, earlier = (next(r for r in model.CANDIDATE_RULES if r.name == n) for n in (
        "last1, month + day, birth year one later", "last1, month + day, birth year one earlier"))
    old = ("l.last1 = r.last1 AND substr(l.dob_sym, 5, 4) = substr(r.dob_sym, 5, 4) "
           "AND abs(l.birth_year - r.birth_year) = 1 "
           "AND coalesce(l.first_name <> r.first_name OR l.last_name <> r.last_name, true)")
    both = _rule_pairs(con, later) + _rule_pairs(con, earlier)
    assert both and len(both) == len(set(both))
    assert set(both) == _plain_pairs(con, old)
    rows = 0
    for rule in (later, earlier):
        sql = rule.join_rows_sql()
        assert sql is not None
        priced = int(con.execute(sql).fetchone()[0])  # type: ignore[index]
        assert priced == _key_join_rows(con, rule)
        rows += priced
    wide = con.execute("SELECT count(*) FROM mdm.identities l JOIN mdm.identities r "
                       "ON l.last1 = r.last1 AND substr(l.dob_sym, 5, 4) = "
                       "substr(r.dob_sym, 5, 4)").fetchone()
    assert rows < int(wide[0]) / 2  # type: ignore[index]


def test_an_undated_record_in_a_block_of_many_namesakes_is_left_to_the_other_rules() -> None:
    """Without a birth date a name held by thousands of records cannot be told apart on the
    name: at the state's size 57k undated records in blocks over 250 made 86M of the rule's
    88M pairs. The bound is on the undated record's block; a smaller block keeps every pair."""
    con = _identities()
    con.execute("UPDATE mdm.identities SET dob = NULL WHERE unit_id % 6 = 0")
    rule = next(r for r in model.CANDIDATE_RULES
                if r.name == "first_name, last_name, one dob missing")
    sizes = sorted(int(n) for (n,) in con.execute(
        "SELECT count(*) FROM mdm.identities GROUP BY first_name, last_name").fetchall())
    limit = sizes[len(sizes) // 2]  # a median block
    bounded = replace(rule, max_block=limit)
    left_out = {int(u) for (u,) in con.execute(f"""
        SELECT unit_id FROM mdm.identities WHERE dob IS NULL AND (first_name, last_name) IN (
            SELECT (first_name, last_name) FROM mdm.identities GROUP BY ALL
            HAVING count(*) > {limit})""").fetchall()}
    assert left_out
    wanted = {p for p in _plain_pairs(con, rule.condition or "") if not set(p) & left_out}
    made = _rule_pairs(con, bounded)
    assert set(made) == wanted and len(made) == len(wanted)
    assert 0 < len(wanted) < len(_rule_pairs(con, rule))
    priced = int(con.execute(bounded.join_rows_sql() or "").fetchone()[0])  # type: ignore[index]
    assert priced < int(con.execute(rule.join_rows_sql() or "").fetchone()[0])  # type: ignore[index]
    assert model._count(con, bounded) == len(made)


def _register_of(records: int) -> duckdb.DuckDBPyConnection:
    """``mdm.identities`` with the blocking columns only: sixty names (first names and
    surnames from one pool, so the crossing rules meet) and a year of birth dates, so every
    rule's blocks hold many records."""
    rng = np.random.default_rng(5)
    pool = np.array([a + b + "EZ" for a in "ABCDEF" for b in "ABCDEFGHIJ"])
    con = duckdb.connect()
    con.execute("CREATE SCHEMA mdm")
    con.register("_drawn", pa.table({
        "unit_id": np.arange(1, records + 1),
        "first_name": rng.choice(pool, records), "last_name": rng.choice(pool, records),
        "days": rng.integers(0, 400, records), "zip": rng.integers(90000, 90010, records)}))
    con.execute("""CREATE TABLE mdm.identities AS
        WITH base AS (SELECT unit_id, first_name, last_name,
                             DATE '2005-01-01' + CAST(days AS INTEGER) AS dob,
                             CAST(zip AS VARCHAR) AS zip FROM _drawn)
        SELECT unit_id, first_name, last_name, [last_name] AS last_tokens,
               last_name AS last1, last_name AS last2, dob, strftime(dob, '%Y%m%d') AS dob_str,
               CAST(year(dob) AS INTEGER) AS birth_year,
               strftime(dob, '%Y') || lpad(CAST(least(month(dob), day(dob)) AS VARCHAR), 2, '0')
                   || lpad(CAST(greatest(month(dob), day(dob)) AS VARCHAR), 2, '0') AS dob_sym,
               NULL::VARCHAR AS ssid, zip, NULL::VARCHAR AS address,
               NULL::VARCHAR[] AS enrolled_schools, NULL::VARCHAR[] AS reported_schools
        FROM base""")
    return con


def test_joins_are_priced_from_a_sample_of_records_at_the_state_size(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pricing every custom rule's join exactly cost 17 s at 2M records (a GROUP BY per side
    over near-unique keys), for a guard that only asks whether a join is past hundreds of rows
    per record. From cost_sample.SAMPLED_FROM records one record in cost_sample.SAMPLE prices
    it: within a few percent of the exact rows."""
    records = 200_000
    con = _register_of(records)
    sample = cost_sample.SAMPLE
    priced = 0
    for rule in model.CANDIDATE_RULES:
        if rule.join_rows_sql() is None or rule.sparse:
            continue
        exact = int(con.execute(rule.join_rows_sql() or "").fetchone()[0])  # type: ignore[index]
        sampled = int(con.execute(rule.join_rows_sql(sample) or "").fetchone()[0])  # type: ignore[index]
        assert abs(sampled - exact) <= 0.05 * exact, rule.name
        priced += exact > 0
    assert priced >= 12  # crossings and the wide rules among them
    # the guard reads the sampled prices from cost_sample.SAMPLED_FROM records on
    monkeypatch.setattr(model, "MAX_JOIN_ROWS_PER_RECORD", 0)
    monkeypatch.setattr(cost_sample, "SAMPLED_FROM", records)
    costly = model._costly_rules(con, records)
    for index, rows in costly.items():
        rule = model.CANDIDATE_RULES[index]
        want = rule.join_rows_sql(1 if rule.sparse else sample)
        assert rows == int(con.execute(want or "").fetchone()[0]), rule.name  # type: ignore[index]
    monkeypatch.setattr(cost_sample, "SAMPLED_FROM", records + 1)
    exact_costly = model._costly_rules(con, records)
    assert set(exact_costly) == set(costly) and exact_costly != costly


def _with_schools(con: duckdb.DuckDBPyConnection) -> None:
    """Schools by person: a CALPADS unit enrolled at a high school and a middle school, a
    college or CCGI record naming the high school; one record in five names none."""
    con.execute("""
        UPDATE mdm.identities i SET
            enrolled_schools = CASE WHEN i.source_system = 'calpads'
                THEN ['H' || hash(t.true_person_id) % 4, 'M' || hash(t.true_person_id) % 3] END,
            reported_schools = CASE WHEN i.source_system <> 'calpads'
                THEN ['H' || hash(t.true_person_id) % 4] END
        FROM truth t
        WHERE t.source_system = i.source_system AND t.source_person_id = i.source_person_id
          AND i.unit_id % 5 <> 0""")


@pytest.mark.parametrize("name", ["school in common, last_name, dob near or missing",
                                  "school in common, first_name, dob near or missing"])
def test_a_school_rule_pairs_a_college_or_ccgi_record_with_the_records_naming_its_school(
        name: str) -> None:
    """The schools are lists (a CALPADS unit's enrolments), so the rule joins on each school
    a record names, from the college and CCGI records only: two CALPADS units never pair on
    a school (one student's two SSIDs come from a move), and their join would cost every
    school's namesakes squared."""
    con = _identities()
    _with_schools(con)
    con.execute("UPDATE mdm.identities SET dob = NULL WHERE unit_id % 6 = 0")
    rule = next(r for r in model.CANDIDATE_RULES if r.name == name)
    assert rule.condition is not None and rule.explode is not None
    made = _rule_pairs(con, rule)
    assert len(made) == len(set(made))  # one school named: no pair twice
    shared = ("list_has_any(coalesce(l.reported_schools, l.enrolled_schools), "
              "coalesce(r.reported_schools, r.enrolled_schools)) "
              "AND (l.reported_schools IS NOT NULL OR r.reported_schools IS NOT NULL)")
    assert set(made) == _plain_pairs(con, f"{rule.condition} AND {shared}")
    sources = dict(con.execute("SELECT unit_id, source_system FROM mdm.identities").fetchall())
    assert {sources[a] for a, b in made} | {sources[b] for a, b in made} >= {"calpads", "college"}
    assert not [p for p in made if sources[p[0]] == sources[p[1]] == "calpads"]
    assert model._count(con, rule) == len(made)
    # priced as its join runs: each college or CCGI record's schools against every
    # record's schools with the same name, both ways
    exploded = ("(SELECT *, unnest(coalesce(reported_schools, enrolled_schools)) AS s "
                "FROM mdm.identities)")
    key = rule.keys[0].format(s="")
    want = con.execute(f"SELECT 2 * count(*) FROM {exploded} l JOIN {exploded} r "
                       f"ON l.s = r.s AND l.{key} = r.{key} "
                       "WHERE l.reported_schools IS NOT NULL").fetchone()
    assert want is not None and want[0] > 0
    assert int(con.execute(rule.join_rows_sql() or "").fetchone()[0]) == want[0]  # type: ignore[index]


def test_a_nickname_without_a_birth_date_meets_its_student_through_the_school() -> None:
    """A college record with a nickname no table knows and no birth date or SSID, beside its
    student's CALPADS record: no name-and-birth-date rule pairs them; the school does."""
    con = _identities()
    _with_schools(con)
    row = con.execute("""
        SELECT c.unit_id, k.unit_id FROM mdm.identities c
        JOIN truth tc ON tc.source_system = c.source_system
         AND tc.source_person_id = c.source_person_id
        JOIN truth tk ON tk.true_person_id = tc.true_person_id
        JOIN mdm.identities k ON k.source_system = tk.source_system
         AND k.source_person_id = tk.source_person_id
        WHERE c.source_system = 'college' AND k.source_system = 'calpads'
          AND c.reported_schools IS NOT NULL AND k.enrolled_schools IS NOT NULL
          AND c.last_name = k.last_name
        LIMIT 1""").fetchone()
    assert row is not None
    college, k12 = int(row[0]), int(row[1])
    con.execute(f"UPDATE mdm.identities SET first_name = 'ZEB', first_nick = NULL, ssid = NULL, "
                f"dob = NULL, dob_sym = NULL, birth_year = NULL, zip = NULL, address = NULL "
                f"WHERE unit_id = {college}")
    con.execute("CREATE OR REPLACE VIEW _cap_input AS "
                "SELECT unit_id AS unique_id, * FROM mdm.identities")
    pair = (min(college, k12), max(college, k12))

    def blocked(rules: list[model.Rule]) -> bool:
        return pair in {(int(a), int(b)) for _, a, b in con.execute(
            model.blocked_pairs_sql(rules, "_cap_input")).fetchall()}
    without = [r for r in model.CANDIDATE_RULES if r.explode is None]
    assert not blocked(without)
    assert blocked(list(model.CANDIDATE_RULES))
