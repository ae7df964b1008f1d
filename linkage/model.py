"""The Splink model: comparisons, blocking rules (chosen from measured counts), training,
prediction, and the per-run artefacts (model JSON + offline charts, no identifiers).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.charts import SplinkChart
from splink.internals.splink_dataframe import SplinkDataFrame

from core import tables
from core.duck import StageTimer
from core.errors import InternalError
from linkage import cost_sample, dialect
from linkage.backend import LinkBackend
from linkage.enrolment import enrolment_comparison
from linkage.training import EM_FIRST_NAME, TrainingReport, captured_splink_messages, train

# Columns handed to Splink (identities minus the crosswalk keys: Splink never sees who is who
# at a partner, only the standardised identity).
MODEL_COLUMNS = (
    "unit_id", "ssid", "first_name", "first_nick", "given_tokens", "last_name", "last_tokens",
    "last1", "last2", "dob", "dob_str", "dob_sym", "birth_year", "gender", "zip", "address",
    "city", "enrol_start", "enrol_end", "enrol_proven_end", "enrolled_schools",
    "reported_schools", "guardian_tokens", "college_start", "class_of",
)

@dataclass(frozen=True)
class Narrowing:
    """One more field two records must share, used to narrow a rule too wide for the cap.

    ``key`` is SQL over one record with ``{s}`` where its alias goes (``{s}gender``). A record
    whose key is null still pairs with every record of the rule's block: a missing gender
    says nothing either way, so it never keeps a pair out (absence is not evidence)."""

    name: str
    key: str

    def side(self, alias: str) -> str:
        return self.key.format(s=f"{alias}." if alias else "")

    def condition(self) -> str:
        left, right = self.side("l"), self.side("r")
        return f"({left} = {right} OR {left} IS NULL OR {right} IS NULL)"


GENDER = Narrowing("gender", "{s}gender")
GENDER_FIRST_INITIAL = Narrowing("gender + first initial", "{s}gender || left({s}first_name, 1)")
GENDER_LAST_INITIAL = Narrowing("gender + surname initial", "{s}gender || left({s}last_name, 1)")
# the next steps when one letter is not enough at the state's size (10.6M records)
GENDER_FIRST2 = Narrowing("gender + first name's first two letters",
                          "{s}gender || left({s}first_name, 2)")
GENDER_SURNAME2 = Narrowing("gender + surname's first two letters",
                            "{s}gender || left({s}last_name, 2)")
# a record without a birth date: the ZIP region (three digits) of a college application
# is mostly the K-12 one, where the full ZIP is not (docs/linkage.md)
GENDER_ZIP3 = Narrowing("gender + ZIP's first three digits", "{s}gender || left({s}zip, 3)")


@dataclass(frozen=True)
class Rule:
    """A candidate prediction blocking rule: equality on ``columns`` (SQL expressions), or a
    custom ``condition`` over ``l.`` / ``r.`` (used when the rule is not a plain equality).

    ``narrow``: narrowings to try, in order, when the rule alone generates more pairs than the
    cap (:func:`measure_rules`); ``narrowed_by`` is the one a narrowed rule carries."""

    name: str
    columns: tuple[str, ...] = ()
    condition: str | None = None
    narrow: tuple[Narrowing, ...] = ()
    narrowed_by: Narrowing | None = None
    # a custom rule's equi-join part: SQL over one record (``{s}`` where its alias goes), the
    # left record's and (when it differs, a crossing) the right record's. What the join costs
    # before the rule's other conditions filter it (:meth:`join_rows_sql`).
    keys: tuple[str, ...] = ()
    keys_r: tuple[str, ...] = ()
    # SQL over one record (``{s}``) true of at least one record of every pair the rule makes
    # (``{s}dob IS NULL`` for "one birth date missing"): the join starts from those records,
    # so it costs their count times the block, not the block squared (a plain self-join of
    # first and last name was 8.8 billion rows at the state's size, and the rule was dropped)
    sparse: str = ""
    # with ``sparse``: only sparse records whose block (records sharing the rule's keys) holds
    # at most this many. A cost bound, not evidence: without a birth date a name shared by
    # thousands of records cannot be told apart on the name (at the state's size 57k of the
    # 107k undated records sit in blocks over 250 and made 86M of the rule's 88M pairs);
    # those records still meet others through the ZIP, address and SSID rules
    max_block: int | None = None
    # SQL list over one record (``{s}``): the rule pairs records whose lists share an
    # element (besides its condition), joined on the element, each list exploded to rows
    # (the schools a record names: a list, so no equi-join on the column itself)
    explode: str | None = None

    def _condition(self) -> str:
        """The rule's own condition over ``l.`` / ``r.`` (Splink's SQL for equality rules)."""
        if self.condition is not None:
            return self.condition
        return str(block_on(*self.columns).get_blocking_rule("duckdb").blocking_rule_sql)

    def creator(self) -> BlockingRuleCreator:
        if self.narrowed_by is not None:
            return CustomRule(f"{self._condition()} AND {self.narrowed_by.condition()}",
                              sql_dialect="duckdb")
        if self.condition is not None:
            return CustomRule(self.condition, sql_dialect="duckdb")
        return block_on(*self.columns)

    def narrowed(self, by: Narrowing) -> Rule:
        return Rule(f"{self.name} [narrowed: {by.name}]", self.columns, self.condition,
                    narrowed_by=by, keys=self.keys, keys_r=self.keys_r, sparse=self.sparse,
                    max_block=self.max_block, explode=self.explode)

    def _exploded(self, rows: str) -> str:
        """``rows`` (a table or a subquery), a row per element of the ``explode`` list (a
        record without one has no row: a null list never blocks)."""
        if self.explode is None:
            return rows
        return (f"(SELECT x.*, unnest({self.explode.format(s='x.')}) AS {EXPLODED_KEY} "
                f"FROM {rows} x)")

    def _sparse_records(self, table: str) -> str:
        """The records a sparse rule joins from: sparse, in a block of at most
        ``max_block`` records when it has one."""
        where = f"WHERE {self.sparse.format(s='s.')}"
        if self.max_block is None:
            return f"(SELECT s.* FROM {table} s {where})"
        keys = ", ".join(f"{k.format(s='')} AS k{i}" for i, k in enumerate(self.keys))
        on = " AND ".join(f"{k.format(s='s.')} = b.k{i}" for i, k in enumerate(self.keys))
        return (f"(SELECT s.* FROM {table} s JOIN (SELECT {keys} FROM {table} GROUP BY "
                f"{', '.join(f'k{i}' for i in range(len(self.keys)))} "
                f"HAVING count(*) <= {int(self.max_block)}) b ON {on} {where})")

    def pairs_sql(self, select: str, table: str, condition: str, id_column: str) -> str:
        """``SELECT {select}`` over the rule's pairs (aliases ``l`` and ``r``, ``l`` the lower
        id) on ``table``, joined on ``condition``. A ``sparse`` rule joins its sparse records
        to all, once for each side (the second leaves out pairs whose lower side is sparse
        too: the first has them), so no pair comes twice. An ``explode`` rule joins on the
        lists' elements too: a pair sharing two comes twice (the blocked pairs' GROUP BY
        keeps one, :func:`first_rule_sql`)."""
        lower = f"l.{id_column} < r.{id_column}"
        if self.explode is not None:
            lower += f" AND l.{EXPLODED_KEY} = r.{EXPLODED_KEY}"
        every = self._exploded(table)
        if not self.sparse:
            return (f"SELECT {select} FROM {every} l JOIN {every} r "
                    f"ON ({condition}) AND {lower}")
        only = self._exploded(self._sparse_records(table))
        return (f"SELECT {select} FROM {only} l JOIN {every} r ON ({condition}) AND {lower}"
                f"\nUNION ALL\nSELECT {select} FROM {every} l JOIN {only} r "
                f"ON ({condition}) AND {lower} AND NOT coalesce({self.sparse.format(s='l.')}, "
                "false)")

    def join_rows_sql(self, sample: int = 1, table: str = tables.IDENTITIES) -> str | None:
        """Rows the custom rule's equi-join makes before its filters (ordered pairs of
        records sharing the keys): its cost, from GROUP BY counts without the join. None for
        an equality rule (its count is exact and as cheap) or a rule without keys.

        ``sample`` > 1 prices the join from one record in ``sample`` (a hash of the unit id)
        and scales up: two distinct records are both kept with chance 1/sample², a record
        with itself with 1/sample. At 2M records each exact price cost about a second, 17 s
        for the rules together, for a guard that only asks whether a join is past
        ``MAX_JOIN_ROWS_PER_RECORD`` (hundreds of rows per record, not a count to the unit).
        A sparse rule is always priced exactly: its block bound reads whole blocks' sizes.
        ``table``: where a sampled price reads the records (``mdm.identities``, or a table of
        its sampled rows, :func:`_costly_rules`)."""
        if self.condition is None or not self.keys:
            return None
        # an exploded rule reads the lists, which the sample table leaves out
        sampled = sample > 1 and not self.sparse and self.explode is None
        source = table if sampled else self._exploded(tables.IDENTITIES)
        element = (EXPLODED_KEY,) if self.explode is not None else ()
        keys_l, keys_r = (*self.keys, *element), (*(self.keys_r or self.keys), *element)

        def grouped(keys: tuple[str, ...], sparse_only: bool = False) -> str:
            values = ", ".join(f"{k.format(s='')} AS k{i}" for i, k in enumerate(keys))
            known = [f"({k.format(s='')}) IS NOT NULL" for k in keys]
            if sparse_only:
                known.append(f"coalesce({self.sparse.format(s='')}, false)")
            if sampled:
                known.append(f"hash(unit_id) % {int(sample)} = 0")
            return (f"SELECT {values}, count(*) AS n FROM {source} "
                    f"WHERE {' AND '.join(known)} GROUP BY ALL")
        if not self.keys_r and not self.sparse:
            # one grouping, no join: a block joined with itself is n² rows, n of them a
            # record with itself (with sample 1, sum(n²))
            return (f"SELECT CAST(coalesce(sum(n * (n - 1)) * {int(sample) ** 2} "
                    f"+ sum(n) * {int(sample)}, 0) AS HUGEINT) FROM ({grouped(keys_l)})")
        on = " AND ".join(f"a.k{i} = b.k{i}" for i in range(len(keys_l)))
        # a sparse rule joins its sparse records to all, once from each side (pairs_sql),
        # those in blocks of at most max_block records
        sides = 2 if self.sparse else 1
        if self.sparse and self.max_block is not None:
            on += f" AND b.n <= {int(self.max_block)}"
        rows = (f"SELECT CAST(coalesce(sum(a.n * b.n), 0) AS HUGEINT) FROM "
                f"({grouped(keys_l, bool(self.sparse))}) a "
                f"JOIN ({grouped(keys_r)}) b ON {on}")
        if not sampled:
            return f"SELECT ({rows}) * {sides}"
        # a crossing pairs a record with itself where its keys equal its crossed keys (an
        # initial that is both): kept with chance 1/sample, not 1/sample²
        same = " AND ".join(f"({k.format(s='')}) = ({r.format(s='')})"
                            for k, r in zip(self.keys, self.keys_r, strict=True))
        itself = (f"SELECT count(*) FROM {source} "
                  f"WHERE {same} AND hash(unit_id) % {int(sample)} = 0")
        return (f"SELECT (({rows}) - ({itself})) * {int(sample) ** 2} "
                f"+ ({itself}) * {int(sample)}")

    def count_sql(self) -> str:
        """Exact pair count on ``mdm.identities``: sum of n(n-1)/2 over blocks for equality
        rules (narrowed ones too, see below), a self-join count (selective conditions only)
        for custom ones."""
        if self.condition is not None:
            narrowing = f" AND {self.narrowed_by.condition()}" if self.narrowed_by else ""
            pairs = self.pairs_sql("1", tables.IDENTITIES, f"{self.condition}{narrowing}",
                                   "unit_id")
            return f"SELECT count(*) FROM ({pairs})"
        not_null = " AND ".join(f"({c}) IS NOT NULL" for c in self.columns)
        blocks = ", ".join(self.columns)
        if self.narrowed_by is None:
            return (f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) AS n "
                    f"FROM {tables.IDENTITIES} WHERE {not_null} GROUP BY {blocks})")
        # per block: pairs whose keys agree, plus every pair with a null key on either side
        # (all pairs of the block minus the pairs of its records that have a key)
        key = self.narrowed_by.side("")
        aliases = [f"b{i}" for i in range(len(self.columns))]
        keyed_blocks = ", ".join(f"{c} AS {a}" for c, a in zip(self.columns, aliases,
                                                                strict=True))
        return f"""SELECT coalesce(sum(agree + n * (n - 1) // 2 - keyed * (keyed - 1) // 2), 0)
            FROM (SELECT coalesce(sum(k_n * (k_n - 1) // 2) FILTER (WHERE k IS NOT NULL), 0)
                             AS agree, sum(k_n) AS n,
                         coalesce(sum(k_n) FILTER (WHERE k IS NOT NULL), 0) AS keyed
                  FROM (SELECT {keyed_blocks}, {key} AS k, count(*) AS k_n
                        FROM {tables.IDENTITIES} WHERE {not_null} GROUP BY ALL)
                  GROUP BY {", ".join(aliases)})"""


def _eq(*columns: str, narrow: tuple[Narrowing, ...] = ()) -> Rule:
    return Rule(", ".join(columns), columns=columns, narrow=narrow)


def _year_one_off(*, later: bool) -> Rule:
    """The surname and the month and day, the right record's birth year one later (or
    earlier) than the left's. One rule per direction, each an equi-join on the year: one rule
    with ``abs(year difference) = 1`` joined on the surname and the month and day alone made
    2.3 billion rows at the state's size, and was dropped."""
    year, year_r = ("{s}birth_year + 1", "{s}birth_year") if later else (
        "{s}birth_year", "{s}birth_year + 1")
    step = "r.birth_year = l.birth_year + 1" if later else "l.birth_year = r.birth_year + 1"
    return Rule(
        f"last1, month + day, birth year one {'later' if later else 'earlier'}", condition=(
            "l.last1 = r.last1 AND substr(l.dob_sym, 5, 4) = substr(r.dob_sym, 5, 4) "
            f"AND {step} "
            "AND coalesce(l.first_name <> r.first_name OR l.last_name <> r.last_name, true)"),
        narrow=(GENDER, GENDER_FIRST_INITIAL),
        keys=("{s}last1", "substr({s}dob_sym, 5, 4)", year),
        keys_r=("{s}last1", "substr({s}dob_sym, 5, 4)", year_r))


# Candidate prediction blocking rules, in order. ``dob_sym`` is year + sorted(month, day), so a
# day/month-swapped date lands in the same block. last1/last2 are the first and last surname
# tokens: "GARCIA LOPEZ" meets "LOPEZ" through last2 and "GARCIA" through last1.
# Later rules skip pairs an earlier rule already generates (a null never blocks, so null
# counts as "differ"). Splink would drop the duplicates anyway, but only after generating
# them: at 200k students the rules generated 4.7M candidate pairs for 1.6M distinct ones.
_NAMES_DIFFER = ("coalesce(l.first_name <> r.first_name, true) "
                 "AND coalesce(l.last1 <> r.last1, true) AND coalesce(l.last2 <> r.last2, true)")
_PREFIX = "left(replace({s}.last_name, ' ', ''), 4)"
_HALF_1 = "substr({s}.ssid, 1, length({s}.ssid) // 2)"
_HALF_2 = "substr({s}.ssid, length({s}.ssid) // 2 + 1)"
# key parts of the custom rules (Rule.keys: SQL over one record, ``{s}`` its alias)
_INITIAL_F, _INITIAL_L = "left({s}first_name, 1)", "left({s}last_name, 1)"
_SECOND_L, _THIRD_L = "substr({s}last_name, 2, 1)", "substr({s}last_name, 3, 3)"

# A record's schools (linkage/schools.py), one per row, in an ``explode`` rule's join
EXPLODED_KEY = "_c2c_element"
_SCHOOLS_OF = "coalesce({s}reported_schools, {s}enrolled_schools)"
# a college or CCGI record (it names a school); two CALPADS units never pair on a school
_NAMES_SCHOOL = "{s}reported_schools IS NOT NULL"
# the school rules' pairs as a condition over ``l.`` / ``r.`` (what Splink's own blocking
# would test; the exploded join makes exactly these, tests/linkage/test_memory.py)
_SHARE_SCHOOL = (f"list_has_any({_SCHOOLS_OF.format(s='l.')}, {_SCHOOLS_OF.format(s='r.')}) "
                 f"AND ({_NAMES_SCHOOL.format(s='l.')} OR {_NAMES_SCHOOL.format(s='r.')})")
# birth dates that may be one person's: one missing, a few days apart (a day keyed wrong),
# or the month and day kept (either order) in another year
_DOB_NEAR = ("(l.dob IS NULL OR r.dob IS NULL OR abs(date_diff('day', l.dob, r.dob)) <= 3 "
             "OR substr(l.dob_sym, 5, 4) = substr(r.dob_sym, 5, 4))")

# The largest block of namesakes a record without a birth date is blocked in (Rule.max_block).
# Measured at the state's size (10.6M records, 107k undated, 78,945 true pairs with an undated
# side): blocks up to 1,000 keep 43,511 of the 60,515 true pairs with both names equal for
# about 20M pairs (all blocks: 88M pairs); the surname-prefix rule yields far less (2,612 true
# pairs for 21.6M at 1,000; 1,026 for 2.8M at 250). docs/linkage.md.
UNDATED_MAX_BLOCK = 1_000
UNDATED_PREFIX_MAX_BLOCK = 250

CANDIDATE_RULES: tuple[Rule, ...] = (
    _eq("ssid"),
    # either half of the SSID (a one-digit keying error leaves the other half intact) with the
    # birth date (day/month order free); pairs with the same SSID are the rule above's
    Rule("ssid first half, dob_sym", condition=(
        f"{_HALF_1.format(s='l')} = {_HALF_1.format(s='r')} AND l.dob_sym = r.dob_sym "
        "AND l.ssid <> r.ssid"),
        keys=("substr({s}ssid, 1, length({s}ssid) // 2)", "{s}dob_sym")),
    Rule("ssid second half, dob_sym", condition=(
        f"{_HALF_2.format(s='l')} = {_HALF_2.format(s='r')} AND l.dob_sym = r.dob_sym "
        f"AND {_HALF_1.format(s='l')} <> {_HALF_1.format(s='r')}"),
        keys=("substr({s}ssid, length({s}ssid) // 2 + 1)", "{s}dob_sym")),
    # first + last name with two of the three birth-date parts: a DOB error in any one part
    # (year, month or day) keeps one of these. Plain first + last name is quadratic in common
    # names (JOSE GARCIA): 2M pairs at 50k students, ~30M at 200k; first + last + birth year
    # alone was 1.4M at 200k.
    _eq("first_name", "last_name", "birth_year", "month(dob)"),
    # ... and with the first surname alone: a compound surname written whole in one record and
    # cut to its first part in the other (OSCAR ZEPEDA / OSCAR ZEPEDA CARDENAS), with a day off
    Rule("first_name, last1, birth_year, month(dob)", condition=(
        "l.first_name = r.first_name AND l.last1 = r.last1 AND l.last_name <> r.last_name "
        "AND l.birth_year = r.birth_year AND month(l.dob) = month(r.dob)"),
        keys=("{s}first_name", "{s}last1", "{s}birth_year", "month({s}dob)")),
    Rule("first_name, last_name, birth_year, day(dob)", condition=(
        "l.first_name = r.first_name AND l.last_name = r.last_name "
        "AND l.birth_year = r.birth_year AND day(l.dob) = day(r.dob) "
        "AND month(l.dob) <> month(r.dob)"),
        keys=("{s}first_name", "{s}last_name", "{s}birth_year", "day({s}dob)")),
    Rule("first_name, last_name, month + day", condition=(
        "l.first_name = r.first_name AND l.last_name = r.last_name "
        "AND substr(l.dob_sym, 5, 4) = substr(r.dob_sym, 5, 4) "
        "AND l.birth_year <> r.birth_year"),
        keys=("{s}first_name", "{s}last_name", "substr({s}dob_sym, 5, 4)")),
    # a birth year typed one off (self-reported college applications) with a first-name
    # variant too: the surname and the month and day; pairs with equal names came above
    _year_one_off(later=True),
    _year_one_off(later=False),
    # ... and the same names when one side has no birth date at all
    Rule("first_name, last_name, one dob missing", condition=(
        "l.first_name = r.first_name AND l.last_name = r.last_name "
        "AND (l.dob IS NULL OR r.dob IS NULL)"), narrow=(GENDER, GENDER_ZIP3),
        keys=("{s}first_name", "{s}last_name"), sparse="{s}dob IS NULL",
        max_block=UNDATED_MAX_BLOCK),
    # ... and a misspelt surname when one side has no birth date: the first name and the
    # surname's first three letters
    Rule("first_name, surname prefix (3), one dob missing", condition=(
        "l.first_name = r.first_name AND left(l.last_name, 3) = left(r.last_name, 3) "
        "AND l.last_name <> r.last_name AND (l.dob IS NULL OR r.dob IS NULL)"),
        narrow=(GENDER, GENDER_ZIP3),
        keys=("{s}first_name", "left({s}last_name, 3)"), sparse="{s}dob IS NULL",
        max_block=UNDATED_PREFIX_MAX_BLOCK),
    # first and last name swapped between the two records, same birth year, ZIP, or month
    # and day (a birth year typed one off as well: RAMIREZ MARIA 2005-04-05 / MARIA RAMIREZ
    # 2004-04-05); the filter after the equi-join keeps the scored pairs few: common names
    # swap both ways
    Rule("first_name = last_name swapped, birth_year, zip or month + day", condition=(
        "l.first_name = r.last_name AND l.last_name = r.first_name "
        "AND (l.birth_year = r.birth_year OR l.zip = r.zip "
        "OR substr(l.dob_sym, 5, 4) = substr(r.dob_sym, 5, 4))"),
        keys=("{s}first_name", "{s}last_name"), keys_r=("{s}last_name", "{s}first_name")),
    # the names swapped in one record while the other name changed too (MEDINA ASHLEY / LEE
    # MEDINA, 13.9 match weight at 50k students, never blocked): one name crossed, with the
    # birth date; one rule per direction (Splink pairs l < r), each an equi-join
    Rule("first_name = last_name crossed, dob", condition=(
        "l.first_name = r.last_name AND l.dob = r.dob "
        "AND coalesce(l.last_name <> r.first_name, true)"),
        keys=("{s}first_name", "{s}dob"), keys_r=("{s}last_name", "{s}dob")),
    Rule("last_name = first_name crossed, dob", condition=(
        "l.last_name = r.first_name AND l.dob = r.dob "
        "AND coalesce(l.first_name <> r.last_name, true)"),
        keys=("{s}last_name", "{s}dob"), keys_r=("{s}first_name", "{s}dob")),
    # ... and swapped in a record with a compound surname (FRANCISCO LOPEZ AGUILAR / LOPEZ
    # FRANCISCO): the swapped record's surname field holds the given name, its first-name
    # field one of the other's surname tokens; one rule per direction (Splink pairs l < r)
    Rule("first_name = last1 swapped with a surname token, dob_sym", condition=(
        "l.first_name = r.last1 AND l.dob_sym = r.dob_sym "
        "AND list_contains(l.last_tokens, r.first_name)"),
        keys=("{s}first_name", "{s}dob_sym"), keys_r=("{s}last1", "{s}dob_sym")),
    Rule("last1 = first_name swapped with a surname token, dob_sym", condition=(
        "l.last1 = r.first_name AND l.dob_sym = r.dob_sym "
        "AND list_contains(r.last_tokens, l.first_name)"),
        keys=("{s}last1", "{s}dob_sym"), keys_r=("{s}first_name", "{s}dob_sym")),
    _eq("last1", "dob_sym", narrow=(GENDER, GENDER_FIRST_INITIAL)),
    # the second surname token: only pairs whose first tokens differ (compound surnames)
    Rule("last2, dob_sym", condition=(
        "l.last2 = r.last2 AND l.dob_sym = r.dob_sym AND coalesce(l.last1 <> r.last1, true)"),
        narrow=(GENDER, GENDER_FIRST_INITIAL),
        keys=("{s}last2", "{s}dob_sym")),
    # a compound written joined meets its parts (MORALESJIMENEZ / MORALES, DIAZRAMIREZ /
    # DIAZ RAMIREZ) when the first names differ too (PEPE / JOSE): same first four letters
    # of the surname with spaces removed; pairs sharing the first token came from last1
    Rule("surname prefix (4, spaces removed), dob_sym", condition=(
        f"{_PREFIX.format(s='l')} = {_PREFIX.format(s='r')} AND l.dob_sym = r.dob_sym "
        "AND coalesce(l.last1 <> r.last1, true)"), narrow=(GENDER,),
        keys=("left(replace({s}last_name, ' ', ''), 4)", '{s}dob_sym')),
    Rule("first_name, dob_sym", condition=(
        "l.first_name = r.first_name AND l.dob_sym = r.dob_sym "
        "AND coalesce(l.last1 <> r.last1, true) AND coalesce(l.last2 <> r.last2, true)"),
        narrow=(GENDER, GENDER_LAST_INITIAL),
        keys=("{s}first_name", "{s}dob_sym")),
    Rule("dob, first and last initials", condition=(
        "l.dob = r.dob AND substr(l.first_name, 1, 1) = substr(r.first_name, 1, 1) "
        f"AND substr(l.last_name, 1, 1) = substr(r.last_name, 1, 1) AND {_NAMES_DIFFER}"),
        narrow=(GENDER, GENDER_SURNAME2),
        keys=("{s}dob", _INITIAL_F, _INITIAL_L)),
    # first and last name swapped in one record while one of them also changed (CASTRO
    # ASHLEY / ASH CASTRO, TYLER SANFORD / SAFORD TYLER, ROMEROGONZALEZ / ROMERO GONZALEZ):
    # the swap rules above need both names equal. The initials crossed, with the birth date:
    # as few pairs as the initials rule; pairs whose four initials agree came from it.
    Rule("dob, first and last initials crossed", condition=(
        "l.dob = r.dob AND substr(l.first_name, 1, 1) = substr(r.last_name, 1, 1) "
        "AND substr(l.last_name, 1, 1) = substr(r.first_name, 1, 1) "
        "AND substr(l.first_name, 1, 1) <> substr(l.last_name, 1, 1)"), narrow=(GENDER,),
        keys=("{s}dob", _INITIAL_F, _INITIAL_L), keys_r=("{s}dob", _INITIAL_L, _INITIAL_F)),
    # the surname's first two letters typed in the wrong order (aCmpbell) while the first
    # name differs too (MITCH / MITCHELL): the initials rule above cannot see it
    Rule("dob, surname's first two letters swapped", condition=(
        "l.dob = r.dob AND left(l.last_name, 1) = substr(r.last_name, 2, 1) "
        "AND substr(l.last_name, 2, 1) = left(r.last_name, 1) "
        "AND substr(l.last_name, 3, 3) = substr(r.last_name, 3, 3) "
        "AND left(l.last_name, 1) <> left(r.last_name, 1)"),
        keys=("{s}dob", _INITIAL_L, _SECOND_L, _THIRD_L),
        keys_r=("{s}dob", _SECOND_L, _INITIAL_L, _THIRD_L)),
    # a college or CCGI record and a record naming the same school, one name the same and
    # a birth date near or missing: a nickname the table lacks, a misspelt first name, a
    # compound surname each side kept a different part of (CCCApply is self-reported),
    # where the rules on the birth date do not reach. A school is shared by a few thousand
    # students, so the name narrows it to a handful.
    Rule("school in common, last_name, dob near or missing",
         condition=f"l.last_name = r.last_name AND {_DOB_NEAR} AND {_SHARE_SCHOOL}",
         keys=("{s}last_name",), sparse=_NAMES_SCHOOL, explode=_SCHOOLS_OF),
    Rule("school in common, first_name, dob near or missing",
         condition=f"l.first_name = r.first_name AND {_DOB_NEAR} AND {_SHARE_SCHOOL}",
         keys=("{s}first_name",), sparse=_NAMES_SCHOOL, explode=_SCHOOLS_OF),
    # both names changed or misspelt: same birth date and ZIP
    Rule("dob, zip", condition=f"l.dob = r.dob AND l.zip = r.zip AND {_NAMES_DIFFER}",
         narrow=(GENDER, GENDER_LAST_INITIAL, GENDER_FIRST_INITIAL),
        keys=("{s}dob", "{s}zip")),
    # same street line and ZIP (where a layout carries addresses): any birth-date error
    _eq("address", "zip"),
    # a name and the ZIP: birth date and the other name both wrong. Cheap in a register with
    # many ZIPs; on data with few ZIPs (the synthetic students) the measured count drops them.
    _eq("last_name", "zip", narrow=(GENDER, GENDER_FIRST_INITIAL, GENDER_FIRST2)),
    _eq("first_name", "zip", narrow=(GENDER, GENDER_LAST_INITIAL, GENDER_SURNAME2)),
)
ALWAYS_KEEP = {"ssid", "first_name, last_name, birth_year, month(dob)"}
# A rule that alone would generate more than this many pairs per record (and more than
# MIN_CAP_PAIRS) is narrowed by its ``narrow`` fields, the first that brings it under; dropped
# only when none does. Most rules' pairs grow with the square of the records (a block of one
# surname and birth date holds more people in a larger state), the cap only linearly.
MAX_PAIRS_PER_RECORD = 3
MIN_CAP_PAIRS = 1_000_000
# A custom rule is a join on its keys, then a filter: the join's rows are its cost, however
# few pairs pass the filter. At the state's shape (10.6M records, 13 birth years, common
# surnames) three rules' joins would make 2.3, 8.8 and 14.7 billion rows (217 to 1,382 per
# record; the link spent over 30 minutes materialising them and spilled 18 GB); on the 1M
# register the largest makes 17 per record. A rule over this many rows per record is dropped
# without running it (its pairs unknown), measured from GROUP BY counts (Rule.join_rows_sql).
MAX_JOIN_ROWS_PER_RECORD = 200
# the joins are priced on a sample of records from 1M (linkage/cost_sample.py)
# the columns the custom rules' keys read (Rule.keys)
PRICE_COLUMNS = ("unit_id, ssid, first_name, last_name, last1, last2, dob, dob_sym, "
                 "birth_year, zip")
# Training caps: u from 500k random pairs (common levels are stable; the rare ones, exact
# SSID / DOB, are a few hits either way and barely move the weights); EM sessions are
# record-sampled by Splink to about this many pairs.
EM_MAX_PAIRS = 500_000
U_MAX_PAIRS = 500_000
SEED = 20_240_601
# m of the birth-date keying-error levels (year one off, one digit): see comparisons()
DOB_SLIP_M = 0.01
# m of the birth-date level "within 31 days" (a date keyed weeks off): see comparisons()
DOB_WEEKS_OFF_M = 0.002
# m of "the school a record names is not one the other attended": one true pair in ten (a
# self-reported earlier school, a typo, a move the records do not show; an assumption, no
# published rate; at 50k students EM found about -3 bits, this is -3.3). Fixed because at the
# state's size EM saw no true pair at that level and drove m to 1.7e-14 (-45.8 bits): with
# the SSID, both names and the birth date equal, 2,563 college records were kept apart from
# their CALPADS student for naming another school. A veto, which absence of evidence of a
# match (EM's empty sample) must never become.
SCHOOL_DIFFERS_M = 0.1
# The two swapped-names levels (first name in the other's surname, surname in the other's
# given names): each EM block holds a name equal, which a swap breaks, so EM never sees a
# swapped true pair and drove the first-name level from +6 to -2 bits at 50k once the birth
# date alone was no longer a block (linkage/training.py EM_SESSIONS). The values are what EM
# found on the birth-date block at 50k students (0.0234 and 0.0127), rounded.
SWAP_FIRST_M = 0.02
SWAP_SURNAME_M = 0.01
PREDICTIONS_TABLE = "c2c_predictions_above_lower"
# One slice of the blocked pairs, registered with Splink for scoring
PAIRS_SLICE_TABLE = "c2c_blocked_pairs_slice"
BLOCKED_PAIRS_TABLE = "c2c_blocked_pairs"
# The custom rules' pairs, kept from measuring them for the blocking (measure_rules)
RULE_PAIRS_TABLE = "c2c_rule_pairs"
# The steps of train_and_predict, in order (train_u includes choosing the rules and the prior).
STEPS = ("train_u", "train_em_names", "train_em_dob", "predict")
INPUT_TABLE = "c2c_identities_input"


@dataclass
class BlockingChoice:
    rule: str
    pairs: int  # comparisons this rule generates on its own (exact, from GROUP BY counts)
    kept: bool
    marginal_pairs: int | None = None  # new pairs it adds after the rules before it
    # a rule over the cap kept narrowed: the narrowing, and the pairs of the rule unnarrowed
    narrowed_by: str | None = None
    wide_pairs: int | None = None
    # a custom rule whose join would make more rows than MAX_JOIN_ROWS_PER_RECORD allows:
    # the rows, and the rule dropped without running it (``pairs`` 0: not measured)
    join_rows: int | None = None


@dataclass
class ModelRun:
    linker: Linker
    predictions: SplinkDataFrame
    blocking: list[BlockingChoice] = field(default_factory=list)
    pairs_scored: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    training: TrainingReport = field(default_factory=TrainingReport)
    predict_chunks: int = 1  # slices predict scored the pairs in (predict_chunks)


def _joined_part(short: str, long: str) -> str:
    """SQL: the ``short`` side's surname (4+ letters, spaces removed) begins or ends the
    ``long`` side's, which is at least 4 letters longer (a joined compound surname)."""
    a = f"replace(\"last_name_{short}\", ' ', '')"
    b = f"replace(\"last_name_{long}\", ' ', '')"
    return (f"(length({a}) >= 4 AND length({b}) >= length({a}) + 4 "
            f"AND (starts_with({b}, {a}) OR suffix({b}, {a})))")

def _swap_crossing(x: str, y: str) -> str:
    """SQL: record ``x`` has the names swapped against ``y``: its first name is one of
    ``y``'s surname tokens, and its surname is near ``y``'s first name."""
    return (f'list_contains("last_tokens_{y}", "first_name_{x}") AND ('
            f'list_has_any("last_tokens_{x}", "given_tokens_{y}") '
            f'OR list_contains("first_nick_{y}", "last_name_{x}") '
            f'OR jaro_winkler_similarity("last_name_{x}", "first_name_{y}") >= 0.88)')


# A unit's schools: CALPADS enrolments or the school its CCGI account names (never both).
_SCHOOLS = 'coalesce("reported_schools_{s}", "enrolled_schools_{s}")'


def _kept_part(single: str, compound: str, part: str) -> str:
    """SQL: the ``single`` side has one surname token and it is the ``part`` (``last1`` or
    ``last2``) of the ``compound`` side, which has more than one token."""
    return (f'(len("last_tokens_{single}") = 1 AND len("last_tokens_{compound}") > 1 '
            f'AND "last1_{single}" = "{part}_{compound}")')


# Ages a record's schooling allows: a first college term before 15 (special admits below
# that are rare; CCAP dual enrolment starts in grade 9), a K-12 enrolment after 22 (special
# education ends then). In days, so DuckDB and Spark compute the same.
MIN_COLLEGE_AGE_DAYS = 15 * 365
MAX_K12_AGE_DAYS = 22 * 365 + 5


def _age_known(start: str, s: str, o: str) -> str:
    return f'("{start}_{s}" IS NOT NULL AND "dob_{o}" IS NOT NULL)'


def _age_outside(s: str, o: str) -> str:
    """SQL: the ``o`` side's birth date makes its person too young for the ``s`` side's first
    college term, or too old for the ``s`` side's K-12 enrolment."""
    return (f"({_age_known('college_start', s, o)} AND date_diff('day', \"dob_{o}\", "
            f"\"college_start_{s}\") < {MIN_COLLEGE_AGE_DAYS}) OR "
            f"({_age_known('enrol_start', s, o)} AND date_diff('day', \"dob_{o}\", "
            f"\"enrol_start_{s}\") > {MAX_K12_AGE_DAYS})")


def age_consistency_comparison() -> Any:
    """A birth date against the other record's schooling: the only age evidence a college
    record without a birth date carries (linkage/college_terms.py). Null (neutral) when
    neither record's schooling dates meet a birth date on the other. The "outside" level has
    a fixed m: EM sees almost no true pair there and would make it a veto, while a
    mistyped birth date or a young special admit can put one person there."""
    known = " OR ".join(_age_known(start, s, o) for start in ("college_start", "enrol_start")
                        for s, o in (("l", "r"), ("r", "l")))
    return cl.CustomComparison(
        output_column_name="age_consistency",
        comparison_levels=[
            cll.CustomLevel(f"NOT ({known})").configure(
                is_null_level=True,
                label_for_charts="no schooling date meets a birth date on the other record"),
            cll.CustomLevel(f"{_age_outside('l', 'r')} OR {_age_outside('r', 'l')}").configure(
                label_for_charts="a birth date outside the ages the other's schooling allows",
                m_probability=0.003, fix_m_probability=True),
            cll.ElseLevel(),
        ],
    )


# m of "another graduating class": a student held back (or started a year late or early), or
# a grade keyed wrong, in one of the two systems. Fixed, as for the other slips: EM sees few
# true pairs there and would make it a veto. An assumption: about 5 % of students are a year
# older than their class (the generator's rate, synth/population.py); no published figure.
CLASS_OF_DIFFERS_M = 0.05
# California's kindergarten cut-off is 1 September: a child born September to December
# starts school the next year, so graduates a year later.
_CUTOFF_MONTH = 9


def _cohort_of_dob(side: str) -> str:
    """SQL: the graduating class a birth date makes typical (born January-August 2006: 2024)."""
    return (f'(year("dob_{side}") + 18 + CASE WHEN month("dob_{side}") >= {_CUTOFF_MONTH} '
            "THEN 1 ELSE 0 END)")


def class_of_comparison() -> Any:
    """Birth-cohort evidence for a pair in which one record has **no birth date**: the
    graduating class K-12 grades name (linkage/cohorts.py) on both records, or on the one
    without a date against the class the other's birth date makes typical. A CCGI account or
    a CALPADS unit without a birth date otherwise meets every namesake on names alone.

    Null (neutral) when both records have a birth date (the dob comparison weighs them; this
    one would count the same evidence twice), and when the record without a date names no
    grade (a college record: absence is no evidence)."""
    both = '"class_of_l" IS NOT NULL AND "class_of_r" IS NOT NULL'
    l_dated = '"class_of_l" IS NULL AND "dob_l" IS NOT NULL AND "class_of_r" IS NOT NULL'
    r_dated = '"class_of_r" IS NULL AND "dob_r" IS NOT NULL AND "class_of_l" IS NOT NULL'
    return cl.CustomComparison(
        output_column_name="class_of",
        comparison_levels=[
            cll.CustomLevel(
                f'("dob_l" IS NOT NULL AND "dob_r" IS NOT NULL) '
                f"OR NOT (({both}) OR ({l_dated}) OR ({r_dated}))").configure(
                is_null_level=True,
                label_for_charts="both birth dates known, or no class to compare"),
            cll.CustomLevel(
                f'(({both}) AND list_has_any("class_of_l", "class_of_r")) '
                f'OR (({l_dated}) AND list_contains("class_of_r", {_cohort_of_dob("l")})) '
                f'OR (({r_dated}) AND list_contains("class_of_l", {_cohort_of_dob("r")}))',
                label_for_charts="same graduating class (grades, or a birth date's cohort)"),
            cll.ElseLevel().configure(
                label_for_charts="another graduating class",
                m_probability=CLASS_OF_DIFFERS_M, fix_m_probability=True),
        ],
    )


def comparisons() -> list[Any]:
    """Fellegi-Sunter comparisons. Names carry term-frequency adjustments on exact levels."""
    first = cl.CustomComparison(
        output_column_name="first_name",
        comparison_levels=[
            cll.NullLevel("first_name"),
            cll.CustomLevel(
                '"given_tokens_l" = "given_tokens_r" AND len("given_tokens_l") > 1',
                label_for_charts="first and middle names agree",
            ),
            # Same first name but both records carry middle names and they differ (JOSE ANTONIO
            # / JOSE ANGEL): a different person far more often than an equal first name alone.
            cll.CustomLevel(
                '"first_name_l" = "first_name_r" AND len("given_tokens_l") > 1 '
                'AND len("given_tokens_r") > 1 AND "given_tokens_l" <> "given_tokens_r"',
                label_for_charts="first names agree, middle names differ",
            ),
            cll.ExactMatchLevel("first_name", term_frequency_adjustments=True),
            # term-frequency adjusted like the exact level: a nickname pair of two common
            # names (EMMA / EMILY: the table makes EMMA a nickname of EMILY) is weaker
            # evidence than a rare one, and without it outweighed an exact common name
            # (EMILY / EMILY) and pulled a twin's record to the other twin
            cll.CustomLevel('list_has_any("first_nick_l", "first_nick_r")').configure(
                label_for_charts="nickname-equivalent (nicknames table)",
                tf_adjustment_column="first_name"),
            # m fixed: no EM block sees swapped true pairs (SWAP_FIRST_M)
            cll.CustomLevel(
                'list_contains("last_tokens_r", "first_name_l") '
                'OR list_contains("last_tokens_l", "first_name_r")',
            ).configure(
                label_for_charts="first name found in the other's surname (names swapped)",
                m_probability=SWAP_FIRST_M, fix_m_probability=True),
            # the first two letters typed in the wrong order (UJAN / JUAN, OJHN / JOHN): a
            # hand-typed application's slip (issue 28). Jaro-Winkler gives a short name so
            # typed 0.917, under 0.92, and no prefix bonus: at 50k such pairs sat at -1.8 bits.
            # Only that exact slip (the rest equal), so MARIA / MARIO, other people, stay out.
            cll.CustomLevel(
                '"first_name_l" <> "first_name_r" AND length("first_name_l") >= 3 '
                'AND left("first_name_l", 1) = substr("first_name_r", 2, 1) '
                'AND substr("first_name_l", 2, 1) = left("first_name_r", 1) '
                'AND substr("first_name_l", 3) = substr("first_name_r", 3)',
                label_for_charts="first two letters swapped (UJAN / JUAN)"),
            cll.JaroWinklerLevel("first_name", 0.92),
            cll.CustomLevel(
                'list_has_any("given_tokens_l", "given_tokens_r")',
                label_for_charts="shares a first/middle token (middle folded into first)"),
            cll.JaroWinklerLevel("first_name", 0.8),
            cll.ElseLevel(),
        ],
    )
    last = cl.CustomComparison(
        output_column_name="last_name",
        comparison_levels=[
            cll.NullLevel("last_name"),
            cll.ExactMatchLevel("last_name", term_frequency_adjustments=True),
            cll.CustomLevel(
                'replace("last_name_l", \' \', \'\') = replace("last_name_r", \' \', \'\')',
                label_for_charts="same surname with spaces removed (joined compound)",
            ),
            # One record keeps part of a compound surname: far more often the same person than
            # two compound surnames sharing one token. Which part is kept is evidence of its
            # own: a person who drops one of two surnames (Spanish order: paternal, then
            # maternal) mostly keeps the first, while a chance match of a single surname is
            # as likely to hit either part, so EM weighs the two apart.
            cll.CustomLevel(
                f"{_kept_part('l', 'r', 'last1')} OR {_kept_part('r', 'l', 'last1')}",
                label_for_charts="one record keeps only the first surname of the other's two",
            ),
            cll.CustomLevel(
                f"{_kept_part('l', 'r', 'last2')} OR {_kept_part('r', 'l', 'last2')}",
                label_for_charts="one record keeps only the last surname of the other's two",
            ),
            # ... any other subset (two of three surnames), or a compound written joined
            # (PEREZ / GARCIAPEREZ) that standardisation did not split (linkage/names.py
            # split_joined): the shorter surname (4+ letters) starts or ends the longer one
            # with spaces removed. m fixed: once joined compounds are split, EM sees too few
            # true pairs here and drove m to ~1e-30, a veto (measured at 200k).
            cll.CustomLevel(
                'list_has_all("last_tokens_l", "last_tokens_r") '
                'OR list_has_all("last_tokens_r", "last_tokens_l") '
                f"OR {_joined_part('l', 'r')} OR {_joined_part('r', 'l')}",
            ).configure(
                label_for_charts="one surname is part of the other (other compound forms)",
                m_probability=0.005, fix_m_probability=True),
            cll.CustomLevel('list_has_any("last_tokens_l", "last_tokens_r")',
                            label_for_charts="shares a surname token, each has another"),
            # a compound surname against one of its parts misspelt or cut short (NARVAEZ /
            # ESPINO NAVAEZ, GALLEGOS MENDOZ / MENDOZA): the whole-surname Jaro-Winkler
            # below is low because the other part is there too
            cll.CustomLevel(
                '(len("last_tokens_l") > 1 OR len("last_tokens_r") > 1) AND greatest('
                'jaro_winkler_similarity("last1_l", "last1_r"), '
                'jaro_winkler_similarity("last1_l", "last2_r"), '
                'jaro_winkler_similarity("last2_l", "last1_r"), '
                'jaro_winkler_similarity("last2_l", "last2_r")) >= 0.92',
                label_for_charts="a surname token nearly equals one of the other's two"),
            # the surnames differ, but one is a surname of a guardian the other record lists
            # (linkage/guardians.py): each record kept a different one of two surnames
            cll.CustomLevel(
                'list_has_any("last_tokens_l", "guardian_tokens_r") '
                'OR list_has_any("last_tokens_r", "guardian_tokens_l")',
                label_for_charts="surname is a guardian's surname on the other record",
            ),
            # names swapped in one record: one crossing exact (this first name is the other's
            # surname: the first-name level weighs that) and the *other* crossing near (this
            # surname against the other's first name: equal, a nickname, or Jaro-Winkler
            # >= 0.88: SAFORD TYLER / TYLER SANFORD, CASTRO ASHLEY / ASH CASTRO). Until
            # 2026-12-06 this level asked only that a surname be among the other's given
            # names, which a swapped record meets through the very token the first-name
            # level had counted: MACKENZIE SYDNEY (a twin's CCGI record, swapped) scored that
            # one token twice against her sister SAMANTHA MACKENZIE.
            cll.CustomLevel(
                f"({_swap_crossing('l', 'r')}) OR ({_swap_crossing('r', 'l')})",
            ).configure(
                label_for_charts="surname found in the other's given names (names swapped)",
                m_probability=SWAP_SURNAME_M, fix_m_probability=True),
            # one keystroke apart (a letter dropped, added, changed, or two swapped): LIU /
            # LUI, BUI / BI, HWANG / HWAMG. Jaro-Winkler weighs one slip by the length and
            # position, and a short surname with one slip fell below 0.92 into the weak
            # levels (-7 bits: ANGELA LIU / LUI, same birth date, stayed apart). Lengths
            # first: the costly edit distance runs only on pairs one letter apart in length.
            cll.CustomLevel(
                'CASE WHEN abs(length("last_name_l") - length("last_name_r")) > 1 '
                'OR greatest(length("last_name_l"), length("last_name_r")) < 3 THEN false '
                'ELSE damerau_levenshtein("last_name_l", "last_name_r") <= 1 END',
                label_for_charts="surname one keystroke apart (Damerau-Levenshtein 1)"),
            cll.JaroWinklerLevel("last_name", 0.92),
            cll.JaroWinklerLevel("last_name", 0.8),
            cll.ElseLevel(),
        ],
    )
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel(
                'year("dob_l") = year("dob_r") AND month("dob_l") = day("dob_r") '
                'AND day("dob_l") = month("dob_r")',
                label_for_charts="day and month swapped",
            ),
            # a date one day off (keyed one off, or shifted a day by a time-zone conversion in
            # an export): as rare among random pairs as twice the exact date, where the digit
            # typo level below also catches 15 / 25 and 2004 / 2014
            cll.CustomLevel('abs(date_diff(\'day\', "dob_l", "dob_r")) = 1',
                            label_for_charts="one day apart"),
            # a birth year typed one off, month and day kept (a self-reported college
            # application): as rare among random pairs of a cohort as the exact date, where
            # the digit-typo level below weighs it with every other one-digit slip
            # m fixed for the keying-error levels: EM sees few true pairs in them (such
            # slips are rare and concentrated in one source) and drove m to ~1e-10, a veto
            # of any date typed one off; 0.01 = one hand-typed record in a hundred per kind
            # of slip (an assumption: no published rate)
            cll.CustomLevel(
                'month("dob_l") = month("dob_r") AND day("dob_l") = day("dob_r") '
                'AND abs(year("dob_l") - year("dob_r")) = 1').configure(
                label_for_charts="birth year one off, month and day equal",
                m_probability=DOB_SLIP_M, fix_m_probability=True),
            # the same year and month, one day the 15th: the middle of the month keyed when
            # the day was unknown or unreadable (a default, not a slip of one digit: 01 / 15,
            # 29 / 15). Otherwise "within 31 days", where two namesakes born weeks apart sit,
            # and at 50k such pairs were 51 of the 258 calpads-college misses.
            # m fixed as a slip's: EM weighed it at 50k, but at the state's size drove m to
            # 1.6e-26 (-75 bits), a veto of every defaulted day
            cll.CustomLevel(
                'year("dob_l") = year("dob_r") AND month("dob_l") = month("dob_r") '
                'AND (day("dob_l") = 15 OR day("dob_r") = 15)',
            ).configure(label_for_charts="same year and month, one day the 15th (a default day)",
                        m_probability=DOB_SLIP_M, fix_m_probability=True),
            # hamming <= 2 first: cheap, and true of every one-digit typo or transposition of
            # an 8-digit date, so the costly Damerau-Levenshtein runs on few pairs (CASE, not
            # AND, makes DuckDB skip it: 2.3 s -> 0.03 s per 1M pairs)
            cll.CustomLevel(
                'CASE WHEN hamming("dob_str_l", "dob_str_r") <= 2 '
                'THEN damerau_levenshtein("dob_str_l", "dob_str_r") <= 1 ELSE false END'
            ).configure(label_for_charts="one digit typo or transposition",
                        m_probability=DOB_SLIP_M, fix_m_probability=True),
            # m fixed: with one-day slips and defaulted days in levels of their own, EM sees
            # almost no true pair left here and drove m to 3e-12 at 10k (-32 bits), a veto
            # of a date keyed weeks off; 0.002 keeps it the -3 to -4 bits EM gave it before
            # (an assumption: one record in 500 with a date keyed a few weeks off)
            cll.CustomLevel(
                'abs(date_diff(\'day\', "dob_l", "dob_r")) <= 31',
            ).configure(label_for_charts="within 31 days", m_probability=DOB_WEEKS_OFF_M,
                        fix_m_probability=True),
            cll.ElseLevel(),
        ],
    )
    return [
        first,
        last,
        dob,
        cl.CustomComparison(
            output_column_name="ssid",
            comparison_levels=[
                cll.NullLevel("ssid"),
                cll.ExactMatchLevel("ssid"),
                # keying error (adjacent digits transposed, one digit wrong) kept apart from a
                # truly different SSID, so "else" is strong evidence of two students
                # Fixed: EM rarely sees one in its sample and random pairs never do (about 100
                # of the 1e10 ten-digit ids are one keystroke away from a given id).
                # (same-length ids only: hamming() is the cheap guard before Damerau-Levenshtein)
                cll.CustomLevel(
                    'CASE WHEN length("ssid_l") <> length("ssid_r") THEN false '
                    'WHEN hamming("ssid_l", "ssid_r") <= 2 '
                    'THEN damerau_levenshtein("ssid_l", "ssid_r") <= 1 ELSE false END').configure(
                    label_for_charts="one digit typo or transposition",
                    m_probability=0.01, u_probability=1e-6,
                    fix_m_probability=True, fix_u_probability=True),
                cll.ElseLevel(),
            ],
        ),
        cl.CustomComparison(
            output_column_name="gender",
            comparison_levels=[
                cll.NullLevel("gender"),
                cll.ExactMatchLevel("gender"),
                # EM drives m to ~0 on clean training blocks, which would veto any match with
                # a miscoded gender; a fixed small m keeps it strong evidence, not a veto.
                cll.ElseLevel().configure(m_probability=0.02, fix_m_probability=True),
            ],
        ),
        # A ZIP's first three digits name its sectional centre, a region: a student who moves
        # within the region, or gives a term address near the college, keeps them.
        cl.CustomComparison(
            output_column_name="zip",
            comparison_levels=[
                cll.NullLevel("zip"),
                cll.ExactMatchLevel("zip"),
                cll.CustomLevel('left("zip_l", 3) = left("zip_r", 3)',
                                label_for_charts="same 3-digit ZIP area"),
                cll.ElseLevel(),
            ],
        ),
        # Street line and city: CALPADS SINF carries them (college / CCGI layouts do not, so
        # for most cross-source pairs these are null and neutral).
        cl.CustomComparison(
            output_column_name="address",
            comparison_levels=[
                cll.NullLevel("address"),
                cll.ExactMatchLevel("address"),
                cll.JaroWinklerLevel("address", 0.9),
                cll.ElseLevel(),
            ],
        ),
        cl.ExactMatch("city"),
        # Schools (linkage/schools.py): the high school a CCGI account or a college record
        # names against the schools of CALPADS enrolments (or the school another such record
        # names). Neutral when a record names none, and for two CALPADS units (a second SSID
        # comes from a move).
        cl.CustomComparison(
            output_column_name="school",
            comparison_levels=[
                cll.CustomLevel(
                    f"{_SCHOOLS.format(s='l')} IS NULL OR {_SCHOOLS.format(s='r')} IS NULL "
                    'OR ("reported_schools_l" IS NULL AND "reported_schools_r" IS NULL)'
                ).configure(
                    is_null_level=True,
                    label_for_charts="no school to compare (none named, two CALPADS units)"),
                cll.CustomLevel(
                    f"list_has_any({_SCHOOLS.format(s='l')}, {_SCHOOLS.format(s='r')})",
                    label_for_charts=(
                        "school a record names (CCGI, college) is one the other attended")),
                cll.ElseLevel().configure(m_probability=SCHOOL_DIFFERS_M, fix_m_probability=True),
            ],
        ),
        # Primary-enrolment spans of two CALPADS units (linkage/enrolment.py): a move between
        # LEAs is how one student comes to hold a second SSID; enrolled at the same time on
        # proven dates is two students. NULL outside CALPADS.
        enrolment_comparison(),
        age_consistency_comparison(),
        class_of_comparison(),
    ]


def array_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """List-typed model columns (their ``len`` is Spark's ``size``, linkage/dialect.py)."""
    schema, name = tables.IDENTITIES.split(".", 1)
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
        "AND table_name = ? AND table_catalog = current_database() AND data_type LIKE '%[]'",
        [schema, name]).fetchall()
    return [r[0] for r in rows]


def rule_cap(records: int) -> int:
    return max(MIN_CAP_PAIRS, MAX_PAIRS_PER_RECORD * records)


def _count(con: duckdb.DuckDBPyConnection, rule: Rule) -> int:
    row = con.execute(rule.count_sql()).fetchone()
    return int(row[0]) if row else 0


def measure_rules(
    con: duckdb.DuckDBPyConnection, records: int, engine: LinkBackend | None = None
) -> list[tuple[Rule, BlockingChoice]]:
    """Each candidate rule as it will block (itself, narrowed, or dropped) with its exact pair
    count (nulls never block together).

    Cheap GROUP BY counts on the warehouse, so the choice is made from measured figures on the
    data being linked, not from a guess. A custom rule is a self-join: with a DuckDB workspace
    in the warehouse's instance (``engine``), each custom rule's join runs once, its pairs are
    kept in ``RULE_PAIRS_TABLE`` and counted there, and :func:`blocked_pairs_sql` reads them
    back instead of joining a second time (docs/scale.md: the count cost as much as the
    blocking itself). A rule over the cap is narrowed rather than dropped: at 1 % of the state
    the rules all fit; at 100 % ``last1, dob_sym`` (the only rule that finds a nickname or a
    misspelt first name on a college application) would be dropped, and with it about 4 % of
    the true pairs (docs/linkage.md, "Blocking at the state's size"). A narrowed custom rule
    is counted and blocked by its own join (it is not among the kept pairs).
    """
    source = engine.input_source(con, tables.IDENTITIES) if engine is not None else None
    too_costly = _costly_rules(con, records)
    stored: dict[int, int] = {}
    if engine is not None and source is not None:
        engine.materialise(RULE_PAIRS_TABLE, rule_pairs_sql(source, skip=set(too_costly)))
        stored = {int(k): int(n) for k, n in engine.query(
            f"SELECT rule, count(*) FROM {RULE_PAIRS_TABLE} GROUP BY rule")}
    cap = rule_cap(records)
    chosen = []
    for index, rule in enumerate(CANDIDATE_RULES):
        if index in too_costly:
            chosen.append((rule, BlockingChoice(rule=rule.name, pairs=0, kept=False,
                                                join_rows=too_costly[index])))
            continue
        if rule.condition is not None and source is not None:
            pairs = stored.get(index, 0)
        else:
            pairs = _count(con, rule)
        if rule.name in ALWAYS_KEEP or pairs <= cap:
            chosen.append((rule, BlockingChoice(rule=rule.name, pairs=pairs, kept=True)))
            continue
        for narrowing in rule.narrow:
            narrow = rule.narrowed(narrowing)
            narrow_pairs = _count(con, narrow)
            if narrow_pairs <= cap:
                chosen.append((narrow, BlockingChoice(
                    rule=narrow.name, pairs=narrow_pairs, kept=True,
                    narrowed_by=narrowing.name, wide_pairs=pairs)))
                break
        else:
            chosen.append((rule, BlockingChoice(rule=rule.name, pairs=pairs, kept=False)))
    return chosen


def _costly_rules(con: duckdb.DuckDBPyConnection, records: int) -> dict[int, int]:
    """The custom rules (index in ``CANDIDATE_RULES``) whose join would make more than
    MAX_JOIN_ROWS_PER_RECORD rows per record, with those rows. A narrowing is no help: it
    filters after the join (a null key pairs with any), so the join costs the same."""
    limit = MAX_JOIN_ROWS_PER_RECORD * max(records, 1)
    sample = cost_sample.sample_for(records)
    table = tables.IDENTITIES
    if sample > 1:
        # the sampled rows once, with the columns the rules' keys read: each rule's price
        # then reads an eighth of the records, not all of them (7.9 s at 8M identities)
        table = "_c2c_price_sample"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {PRICE_COLUMNS} "
                    f"FROM {tables.IDENTITIES} WHERE hash(unit_id) % {sample} = 0")
    costly = {}
    try:
        for index, rule in enumerate(CANDIDATE_RULES):
            sql = rule.join_rows_sql(sample, table)
            row = con.execute(sql).fetchone() if sql else None
            if row and int(row[0]) > limit:
                costly[index] = int(row[0])
    finally:
        if sample > 1:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return costly


def rule_pairs_sql(table: str, skip: set[int] | None = None) -> str:
    """Every custom candidate rule's pairs on ``table`` (``unit_id``): the rule's index in
    ``CANDIDATE_RULES`` and the two ids, lower first. The conditions are Splink's own SQL for
    each rule, as :func:`blocked_pairs_sql` joins them. ``skip``: rules left out."""
    skip = skip or set()
    parts = [
        rule.pairs_sql(f"CAST({index} AS SMALLINT) AS rule, l.unit_id AS join_key_l, "
                       "r.unit_id AS join_key_r", table,
                       rule.creator().get_blocking_rule("duckdb").blocking_rule_sql, "unit_id")
        for index, rule in enumerate(CANDIDATE_RULES)
        if rule.condition is not None and index not in skip]
    return ("\nUNION ALL\n".join(parts) if parts else
            "SELECT CAST(NULL AS SMALLINT) AS rule, CAST(NULL AS BIGINT) AS join_key_l, "
            "CAST(NULL AS BIGINT) AS join_key_r LIMIT 0")


def _register_inputs(con: duckdb.DuckDBPyConnection, engine: LinkBackend) -> SplinkDataFrame:
    """All identities as ONE Splink input, deduplicated as a whole.

    ``dedupe_only`` on the union scores exactly the pairs ``link_and_dedupe`` would (within
    and across sources), but Splink then orders pairs by the integer ``unique_id`` instead of
    a concatenated ``source_dataset || unique_id`` string on every candidate pair: about a
    third less predict time at 200k students.

    A DuckDB workspace in the warehouse's instance copies the identities table to table
    (DuckDB spills it like any other); otherwise (Spark) they go over as Arrow.
    """
    # EM's birth-date-and-first-name block reads the first name under a name of its own
    # (training.EM_FIRST_NAME)
    em_copy = f"first_name AS {EM_FIRST_NAME}"
    cols = ", ".join([*MODEL_COLUMNS, em_copy])
    source = engine.input_source(con, tables.IDENTITIES)
    if source is not None:
        # sorted by id: Splink's samples read the input in its order (the same model from
        # the same data), and predict's slices are ranges of the id, read from the input
        # through its zone maps
        engine.query(f"CREATE TABLE {INPUT_TABLE} AS SELECT unit_id AS unique_id, "
                     f"{', '.join([*MODEL_COLUMNS[1:], em_copy])} FROM {source} "
                     "ORDER BY unit_id")
        # display names are put in SQL unquoted: keep them plain identifiers
        return engine.db_api.register(INPUT_TABLE, dataset_display_name="identities")
    arrow: pa.Table = con.execute(
        f"SELECT {cols} FROM {tables.IDENTITIES} ORDER BY unit_id").fetch_arrow_table()
    arrow = arrow.rename_columns(["unique_id", *MODEL_COLUMNS[1:], EM_FIRST_NAME])
    # display names are put in SQL unquoted: keep them plain identifiers
    return engine.db_api.register(arrow, dataset_display_name="identities")


def _linker(
    con: duckdb.DuckDBPyConnection, engine: LinkBackend, kept: list[Any]
) -> Linker:
    sql_dialect = engine.db_api.sql_dialect.sql_dialect_str
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        # one model, two dialects: the DuckDB SQL generated for the backend in use
        comparisons=dialect.comparisons_for(comparisons(), sql_dialect, array_columns(con)),
        blocking_rules_to_generate_predictions=kept,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    return Linker(_register_inputs(con, engine), settings, log_level=logging.WARNING)


def train_and_predict(
    con: duckdb.DuckDBPyConnection,
    engine: LinkBackend,
    *,
    records: int,
    lower_threshold: float,
    chunk_pairs: int,
    on_step: Callable[[str, float], None] | None = None,
) -> ModelRun:
    """Train u (random sampling) and m (EM, training.EM_SESSIONS) on the backend's training
    workspace, then score blocked pairs on the backend itself (on DuckDB in chunks of about
    ``chunk_pairs`` candidate pairs, :func:`predict_chunks`; Spark in one slice), keeping
    the pairs at or above ``lower_threshold`` (the run passes the review band's lower bound,
    or the rivals' floor under it: linkage/rivals.py ``scoring_floor``).
    ``on_step(name, seconds)`` is called as each of ``STEPS`` ends."""
    timer = StageTimer(on_lap=on_step)
    lap, stages = timer.lap, timer.stages

    # a DuckDB workspace in the warehouse's instance keeps the custom rules' pairs from
    # measuring them for the blocking (measure_rules)
    keeps = engine.name == "duckdb" and engine.input_source(con, tables.IDENTITIES) is not None
    measured = measure_rules(con, records, engine if keeps else None)
    choices = [c for _, c in measured]
    kept_rules = [rule for rule, c in measured if c.kept]
    kept: list[BlockingRuleCreator | dict[str, Any]] = [rule.creator() for rule in kept_rules]
    report = TrainingReport()
    # Splink's own log lines go into the run summary (training.py), not to stderr
    with captured_splink_messages(report):
        trainer = engine.open_training()
        try:
            trained = _linker(con, trainer, kept)
            train(trained, con, report, records=records, u_max_pairs=U_MAX_PAIRS,
                  em_max_pairs=EM_MAX_PAIRS, seed=SEED, lap=lap)
        finally:
            if trainer is not engine:
                trainer.close()
        if trainer is engine:
            linker = trained
        else:
            linker = _linker(con, engine, kept)
            copy_parameters(trained, linker)
            lap("register")
        # Spark scores in one slice: its shuffle spills on its own, and each slice is a job
        chunks = 1 if engine.name == "spark" else predict_chunks(choices, chunk_pairs)
        marginal = _score_in_chunks(linker, engine, kept_rules, chunks, lower_threshold,
                                    RULE_PAIRS_TABLE if keeps else None, warehouse=con)
    lap("predict")
    for key, choice in enumerate(c for c in choices if c.kept):
        choice.marginal_pairs = int(marginal.get(key, 0))
    pairs_scored = int(sum(marginal.values()))
    predictions = engine.db_api.table_to_splink_dataframe("__splink__df_predict",
                                                          PREDICTIONS_TABLE)
    return ModelRun(linker, predictions, choices, pairs_scored, stages, report, chunks)


def predict_chunks(choices: list[BlockingChoice], chunk_pairs: int) -> int:
    """How many slices predict scores the pairs in, so that one slice's pairs fit the memory.

    DuckDB spills joins and sorts, but predict's scoring (blocked pairs joined to both
    records, every comparison evaluated) held a whole run's pairs pinned at once: at 8M
    identities it failed under a 4 GB limit ("failed to pin block"). The kept rules' own
    counts (measured, an upper bound on the distinct pairs) over ``chunk_pairs`` gives the
    slices; :func:`_score_in_chunks` cuts the blocked pairs into ranges of the left record's
    id, so each pair falls in exactly one and the union is the unchunked result."""
    candidate = sum(c.pairs for c in choices if c.kept)
    return max(1, math.ceil(candidate / max(1, chunk_pairs)))


def _score_in_chunks(
    linker: Linker, engine: LinkBackend, rules: list[Rule], chunks: int, lower_threshold: float,
    stored: str | None = None, *, warehouse: duckdb.DuckDBPyConnection,
) -> dict[int, int]:
    """Score each slice, keep its pairs at or above ``lower_threshold`` in ``PREDICTIONS_TABLE``
    and drop the rest: the pairs scored per rule (Splink's ``match_key``, the first rule
    that generated the pair) are counted slice by slice, not kept.

    On DuckDB each rule's join runs once (:func:`rule_union_sql`): two ids and a rule number
    per pair and rule (a table DuckDB spills like any other), cut into slices by ranges of the
    left id (:func:`_slice_conditions`); a slice keeps each pair once, with its first rule
    (:func:`first_rule_sql`). Splink's ``predict_chunk`` re-ran every
    blocking join over all identities for each slice, so the blocking cost grew with slices x
    identities (docs/scale.md). Each slice is then registered as the blocked pairs Splink scores
    (its DuckDB path reads only the records those pairs name). Spark scores in one slice (its
    shuffle spills on its own) the pairs the same blocking made on the ``warehouse``, where
    the identities are (:func:`blocked_pairs_to`; docs/scale.md, Spark)."""
    if engine.name == "spark":
        blocked_pairs_to(engine, warehouse, rules)
        return _score_on_spark(linker, engine, lower_threshold)
    source = next(iter(linker._input_tables_dict.values())).physical_name
    # every rule's pairs, a pair once per rule; each slice keeps a pair's first rule. One
    # GROUP BY of all of them spilled at 8M identities (30.6 s); a slice's fits in memory.
    engine.materialise(BLOCKED_PAIRS_TABLE, rule_union_sql(rules, source, stored))
    engine.query(f"DROP TABLE IF EXISTS {RULE_PAIRS_TABLE}")
    marginal: Counter[int] = Counter()
    try:
        for i, where in enumerate(_slice_conditions(engine, chunks)):
            engine.materialise(PAIRS_SLICE_TABLE, first_rule_sql(
                f"SELECT * FROM {BLOCKED_PAIRS_TABLE} WHERE {where}"))
            linker.table_management.register_blocked_pairs_for_predict(
                engine.db_api.register(PAIRS_SLICE_TABLE))
            # every pair of the slice is scored once: count them here, and let Splink keep
            # only the pairs near or above the band instead of writing every scored pair
            marginal.update(_pairs_per_rule(engine, PAIRS_SLICE_TABLE))
            scored = linker.inference.predict(
                threshold_match_weight=prefilter_weight(lower_threshold),
                warning_mode="auto" if i == 0 else "never")
            try:
                _keep_scored(engine, scored.physical_name, lower_threshold, first=i == 0)
            finally:
                scored.drop_table_from_database_and_remove_from_cache()
    finally:
        engine.query(f"DROP TABLE IF EXISTS {PAIRS_SLICE_TABLE}")
        engine.query(f"DROP TABLE IF EXISTS {BLOCKED_PAIRS_TABLE}")
    return dict(marginal)


def _slice_conditions(engine: LinkBackend, chunks: int) -> list[str]:
    """The slices' conditions on the blocked pairs: ranges of the left record's id holding
    about as many pairs each (approximate quantiles; equal bounds are merged, so a slice is
    never empty by construction). A range, not a hash: Splink reads each slice's left
    records from the input (ordered by id) with the slice's id range pushed into the scan,
    so a slice reads its own part of the input, not all of it (at 8M identities the two
    reads of each of 14 slices were 4.7 s against 7.5 s of scoring)."""
    if chunks <= 1:
        return ["true"]
    cuts = ", ".join(str(i / chunks) for i in range(1, chunks))
    row = engine.query(f"SELECT approx_quantile(join_key_l, [{cuts}]) FROM {BLOCKED_PAIRS_TABLE}")
    bounds = sorted({int(b) for b in (row[0][0] or []) if b is not None}) if row else []
    edges: list[int | None] = [None, *bounds, None]
    return [" AND ".join(part for part in (
        f"join_key_l > {lo}" if lo is not None else "", f"join_key_l <= {hi}" if hi is not None
        else "") if part) or "true" for lo, hi in zip(edges, edges[1:], strict=False)]


# Splink filters predictions on the match weight: the band's lower threshold as a weight,
# less this margin, keeps every pair the exact probability test (_keep_scored) then keeps.
PREFILTER_MARGIN = 0.5


def prefilter_weight(lower_threshold: float) -> float | None:
    """A match weight below the band's lower threshold (None: no prefilter possible)."""
    if not 0.0 < lower_threshold < 1.0:
        return None
    return math.log2(lower_threshold / (1.0 - lower_threshold)) - PREFILTER_MARGIN


# Blocked pairs per Arrow batch handed from the warehouse to Spark (three columns: about
# 25 bytes a pair, so 50 MB a batch in the driver)
PAIRS_BATCH_ROWS = 2_000_000
_BY_UNIQUE_ID = "_c2c_identities_by_unique_id"


def blocked_pairs_to(
    engine: LinkBackend, warehouse: duckdb.DuckDBPyConnection, rules: list[Rule]
) -> None:
    """``BLOCKED_PAIRS_TABLE`` on ``engine``: the blocked pairs made on the warehouse's
    identities and handed over in Arrow batches.

    Spark made them itself until 2026-12-07 (the same SQL in Spark SQL): at 1M + 1M that was
    213 of the JVM's 488 CPU seconds, each rule a sort-merge join of two shuffled sides,
    where DuckDB's hash joins on the warehouse take seconds (docs/scale.md, Spark).
    The pairs are three columns of integers, the ids Spark's input carries too."""
    warehouse.execute(f"CREATE OR REPLACE TEMP VIEW {_BY_UNIQUE_ID} AS "
                      f"SELECT unit_id AS unique_id, * FROM {tables.IDENTITIES}")
    try:
        reader = warehouse.execute(blocked_pairs_sql(rules, _BY_UNIQUE_ID)).fetch_record_batch(
            PAIRS_BATCH_ROWS)
        engine.receive(BLOCKED_PAIRS_TABLE, reader)
    finally:
        warehouse.execute(f"DROP VIEW IF EXISTS {_BY_UNIQUE_ID}")


def _score_on_spark(
    linker: Linker, engine: LinkBackend, lower_threshold: float
) -> dict[int, int]:
    """The blocked pairs (``BLOCKED_PAIRS_TABLE``, on the executors), registered as the pairs
    Splink scores, scored in one slice.

    As on DuckDB the pairs are counted per rule before scoring and Splink keeps only the
    pairs near or above the band: until 2026-12-07 Spark's predict kept every scored pair
    with all its comparison columns (9.1M wide rows at 1M + 1M, checkpointed and spilled)
    to count them and filter afterwards."""
    try:
        marginal = _pairs_per_rule(engine, BLOCKED_PAIRS_TABLE)
        linker.table_management.register_blocked_pairs_for_predict(
            engine.db_api.table_to_splink_dataframe(BLOCKED_PAIRS_TABLE, BLOCKED_PAIRS_TABLE))
        scored = linker.inference.predict(
            threshold_match_weight=prefilter_weight(lower_threshold))
        try:
            _keep_scored(engine, scored.physical_name, lower_threshold, first=True)
            return dict(marginal)
        finally:
            scored.drop_table_from_database_and_remove_from_cache()
    finally:
        engine.query(f"DROP VIEW IF EXISTS {BLOCKED_PAIRS_TABLE}")


def blocked_pairs_sql(rules: list[Rule], table: str, stored: str | None = None) -> str:
    """The candidate pairs of ``rules`` on ``table`` (``unique_id``), each once, with the
    first rule that generates it (``match_key``): what Splink's blocking makes, computed
    another way.

    Splink keeps a pair out of rule k by testing every earlier rule's condition on each of
    rule k's pairs (``AND NOT (r1 OR r2 ...)``): a cost of pairs x rules, most of the
    blocking time at 2M identities. Here each rule's join runs bare
    (:func:`rule_union_sql`) and one GROUP BY on the two ids keeps the lowest rule
    (:func:`first_rule_sql`; 10.6 CPU s against 22 at 1M identities, the same pairs and
    keys)."""
    return first_rule_sql(rule_union_sql(rules, table, stored))


def rule_union_sql(rules: list[Rule], table: str, stored: str | None = None) -> str:
    """Every rule's pairs on ``table`` (``unique_id``), a pair once per rule that makes it:
    ``match_key`` (the rule's place in ``rules``), ``join_key_l``, ``join_key_r``. The
    conditions are Splink's own SQL for each rule. A custom rule whose pairs measuring kept
    (``stored``, :func:`rule_pairs_sql`) is read from there, not joined."""
    def pairs(key: int, rule: Rule) -> str:
        if stored is not None and rule.condition is not None and rule in CANDIDATE_RULES:
            return (f"SELECT {key} AS match_key, join_key_l, join_key_r FROM {stored} "
                    f"WHERE rule = {CANDIDATE_RULES.index(rule)}")
        return rule.pairs_sql(
            f"{key} AS match_key, l.unique_id AS join_key_l, r.unique_id AS join_key_r", table,
            rule.creator().get_blocking_rule("duckdb").blocking_rule_sql, "unique_id")
    return "\nUNION ALL\n".join(pairs(key, rule) for key, rule in enumerate(rules))


def first_rule_sql(union: str) -> str:
    """Each pair of ``union`` (:func:`rule_union_sql`) once, with its lowest ``match_key`` as
    text (Splink's column)."""
    return (f"SELECT CAST(min(match_key) AS VARCHAR) AS match_key, join_key_l, join_key_r "
            f"FROM ({union}) GROUP BY join_key_l, join_key_r")


def _pairs_per_rule(engine: LinkBackend, pairs: str) -> Counter[int]:
    """The blocked pairs of ``pairs`` per rule (``match_key``, the first rule making a pair):
    counted before scoring, since Splink keeps only the pairs near or above the band."""
    return Counter({int(key): int(n) for key, n in engine.query(
        f"SELECT CAST(match_key AS INTEGER), count(*) FROM {pairs} GROUP BY 1")})


def _keep_scored(engine: LinkBackend, scored: str, lower_threshold: float, *, first: bool) -> None:
    """Pairs of ``scored`` at or above ``lower_threshold`` into ``PREDICTIONS_TABLE``."""
    kept = (f"SELECT unique_id_l, unique_id_r, match_weight, match_probability "
            f"FROM {scored} WHERE match_probability >= {float(lower_threshold)!r}")
    if first:
        engine.materialise(PREDICTIONS_TABLE, kept)
    else:  # DuckDB only (Spark scores in one slice)
        engine.query(f"INSERT INTO {PREDICTIONS_TABLE} {kept}")


def copy_parameters(source: Linker, target: Linker) -> None:
    """The trained model of ``source`` (prior, every level's m and u) onto ``target``: the same
    comparisons and levels, written in another SQL dialect (linkage/dialect.py)."""
    src, dst = source._settings_obj, target._settings_obj
    dst._probability_two_random_records_match = src._probability_two_random_records_match
    for a, b in zip(src.comparisons, dst.comparisons, strict=True):
        levels = zip(a.comparison_levels, b.comparison_levels, strict=True)
        for level_a, level_b in levels:
            if level_a.label_for_charts != level_b.label_for_charts:
                raise InternalError(
                    f"{a.output_column_name}: level {level_a.label_for_charts!r} has no twin "
                    f"in the {target._sql_dialect_str} model")
            # the raw values (Splink's "level not observed" marker included) and the
            # training history the charts draw
            for attr in ("_m_probability", "_u_probability", "_trained_m_probabilities",
                         "_trained_u_probabilities"):
                setattr(level_b, attr, getattr(level_a, attr))


def prediction_edges(run: ModelRun) -> pa.Table:
    """(unit_id_l, unit_id_r, match_probability) for every scored pair above the lower band."""
    table = run.predictions.as_pyarrow_table()
    # Spark hands rows back in partition order: sort so clustering sees one order on both
    table = table.sort_by([("unique_id_l", "ascending"), ("unique_id_r", "ascending")])
    return pa.table({
        "unit_id_l": table.column("unique_id_l").cast(pa.int64()),
        "unit_id_r": table.column("unique_id_r").cast(pa.int64()),
        "match_probability": table.column("match_probability").cast(pa.float64()),
    })


def prior_of(run: ModelRun) -> float:
    """The trained prior: the probability that two random records match."""
    return float(run.linker._settings_obj._probability_two_random_records_match)


def save_artefacts(run: ModelRun, run_dir: Path) -> list[str]:
    """Model JSON and offline charts (vega bundled inline, no CDN).

    None of these hold identifiers: the model has parameters and SQL conditions only, the
    charts show weights and a histogram. The comparison viewer and the term-frequency chart
    show names, so they are not written (clerical review works from ``mdm.review_queue``
    inside the encrypted warehouse).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with captured_splink_messages(run.training):
        run.linker.misc.save_model_to_json(str(run_dir / "model.json"), overwrite=True)
        written.append("model.json")
        charts: dict[str, SplinkChart] = {
            "match_weights.html": run.linker.visualisations.match_weights_chart(),
            "m_u_parameters.html": run.linker.visualisations.m_u_parameters_chart(),
        }
        # a histogram of no pairs is no chart (Splink fails on it): a tiny first-year link
        # may keep no pair above the lower band
        if run.predictions.as_record_list(limit=1):
            charts["match_weights_histogram.html"] = (
                run.linker.visualisations.match_weights_histogram(run.predictions))
    for name, chart in charts.items():
        (run_dir / name).write_text(chart.to_html(inline=True), encoding="utf-8")
        written.append(name)
    return written
