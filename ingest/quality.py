"""The data-quality return to a partner: what its own files say about their own quality.

Per year (CALPADS academic year, college term, CCGI academic year) and per file, from the
partner's accepted files only:

- **completeness** against the partner's own previous year: rows with no birth date, no exit
  date (CALPADS enrolments), no SSID, names written all in capitals, and no high school
  (college records that carry the optional ``high_school_cds`` column: the one piece of
  evidence beyond names and a birth date that a college record without an SSID gives the
  link, docs/linkage.md);
- **possible multiple identifiers**: pairs of the partner's own ids (SSIDs; a college's
  student ids; CCGI account ids) whose records look like one student (the CALPADS
  multiple-identifier report's idea), found **in the partner's own rows only**: never from
  the link, which would say that another partner's record joined them;
- **rows that failed validation**, grouped by year, file kind, field and rule.

Everything here is the partner's own data, shown to it exactly. Nothing reads another
partner's rows: every query is bounded by ``_OWN`` (files the partner sent or that are
filed under it), and the pair search joins the partner's rows to themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from core import tables
from core.calpads import cds_school_sql
from core.duck import columns_of, table_exists


@dataclass(frozen=True)
class _Source:
    kind: str  # ingest.files.kind
    table: str
    id_column: str  # the partner's own id for a student
    id_label: str
    exit_column: str | None  # completeness of exits applies to enrolments only
    year_sql: str  # the year a row belongs to, from ingest.files f


_CCGI_YEAR = ("CASE WHEN month(TRY_CAST(f.period AS DATE)) >= 7 "
              "THEN CAST(year(TRY_CAST(f.period AS DATE)) AS VARCHAR) || '-' || "
              "right(CAST(year(TRY_CAST(f.period AS DATE)) + 1 AS VARCHAR), 2) "
              "ELSE CAST(year(TRY_CAST(f.period AS DATE)) - 1 AS VARCHAR) || '-' || "
              "right(CAST(year(TRY_CAST(f.period AS DATE)) AS VARCHAR), 2) END")
SOURCES = (
    _Source("SENR", tables.calpads_staging("SENR"), "ssid", "SSID", "enrollment_exit_date",
            "f.period"),
    _Source("college_students", tables.csv_staging("college_students"), "student_id",
            "student id", None, "f.period"),
    _Source("ccgi_activity", tables.csv_staging("ccgi_activity"), "ccgi_account_id",
            "CCGI account id", None, _CCGI_YEAR),
)
MEASURES = ("missing_birth_date", "missing_exit", "missing_ssid", "names_in_capitals",
            "missing_high_school")
# Files the partner sent or that are filed under it, accepted and current.
_OWN = "(f.partner_org = $org OR f.submitted_by = $org)"
_CAPITALS = ("(regexp_matches(coalesce(first_name, '') || coalesce(last_name, ''), '[A-Z]') "
             "AND NOT regexp_matches(coalesce(first_name, '') || coalesce(last_name, ''), "
             "'[a-z]'))")
_NORM = "regexp_replace(upper(strip_accents(coalesce({c}, ''))), '[^A-Z]', '', 'g')"


@dataclass
class Completeness:
    year: str
    kind: str
    file: str | None  # None: the year's total over the partner's files of that kind
    rows: int
    counts: dict[str, int | None]  # measure -> rows (None: does not apply to this kind)
    last_year: str | None = None
    last_year_share: dict[str, float | None] = field(default_factory=dict)

    def share(self, measure: str) -> float | None:
        n = self.counts.get(measure)
        return None if n is None or not self.rows else n / self.rows


@dataclass(frozen=True)
class IdPair:
    year: str
    kind: str
    id_label: str
    id_a: str
    id_b: str
    rule: str  # same_name_and_birth_date | close_name_same_birth_date | swapped_names
    files: str


@dataclass(frozen=True)
class FailureGroup:
    year: str
    kind: str
    field: str
    rule: str
    errors: int  # stored errors (each file stores at most ingest.validate.MAX_STORED_ERRORS)
    capped: bool  # a file of the group had more errors than it stored: ``errors`` is a floor
    files: int
    example_lines: str
    message: str


@dataclass
class QualityReturn:
    org: str
    completeness: list[Completeness] = field(default_factory=list)
    pairs: list[IdPair] = field(default_factory=list)
    failures: list[FailureGroup] = field(default_factory=list)

    @property
    def years(self) -> list[str]:
        return sorted({c.year for c in self.completeness} | {f.year for f in self.failures},
                      reverse=True)


def _measures(source: _Source, cols: set[str]) -> str:
    def col(name: str, expr: str) -> str:
        return f"count(*) FILTER (WHERE {expr})" if name in cols else "NULL::BIGINT"
    exit_expr = (col(source.exit_column, f"{source.exit_column} IS NULL")
                 if source.exit_column else "NULL::BIGINT")
    ssid = col("ssid", "nullif(trim(CAST(ssid AS VARCHAR)), '') IS NULL")
    capitals = (f"count(*) FILTER (WHERE {_CAPITALS})"
                if {"first_name", "last_name"} <= cols else "NULL::BIGINT")
    # blank, or a code that names no school: either way nothing the link can use
    high_school = col("high_school_cds", f"{cds_school_sql('high_school_cds')} IS NULL")
    return (f"count(*), {col('birth_date', 'birth_date IS NULL')}, {exit_expr}, {ssid}, "
            f"{capitals}, {high_school}")


def _completeness(con: duckdb.DuckDBPyConnection, source: _Source, org: str
                  ) -> list[Completeness]:
    cols = columns_of(con, source.table)
    rows = con.execute(f"""
        SELECT {source.year_sql} AS year, f.original_name, {_measures(source, cols)}
        FROM {source.table} s JOIN {tables.FILES} f ON f.file_id = s.file_id
        WHERE {_OWN} AND f.status = 'accepted'
        GROUP BY GROUPING SETS ((year), (year, f.original_name))
        ORDER BY year, f.original_name NULLS FIRST""", {"org": org}).fetchall()
    out = [Completeness(str(year), source.kind, name, int(n),
                        dict(zip(MEASURES, (None if v is None else int(v) for v in values),
                                 strict=True)))
           for year, name, n, *values in rows if year is not None]
    totals = [c for c in out if c.file is None]
    for before, after in zip(totals, totals[1:], strict=False):
        for c in out:
            if c.year == after.year:
                c.last_year = before.year
                c.last_year_share = {m: before.share(m) for m in MEASURES}
    return out


def _pairs(con: duckdb.DuckDBPyConnection, source: _Source, org: str) -> list[IdPair]:
    cols = columns_of(con, source.table)
    if not {"first_name", "last_name", "birth_date"} <= cols:
        return []
    first, last = _NORM.format(c="first_name"), _NORM.format(c="last_name")
    gender = "gender" if "gender" in cols else "NULL::VARCHAR"
    rows = con.execute(f"""
        WITH own AS (
            SELECT DISTINCT {source.year_sql} AS year, trim(CAST(s.{source.id_column} AS VARCHAR))
                   AS id, {first} AS fn, {last} AS ln, s.birth_date AS bd, {gender} AS g,
                   f.original_name AS file
            FROM {source.table} s JOIN {tables.FILES} f ON f.file_id = s.file_id
            WHERE {_OWN} AND f.status = 'accepted' AND s.birth_date IS NOT NULL
              AND nullif(trim(CAST(s.{source.id_column} AS VARCHAR)), '') IS NOT NULL),
        pairs AS (
            SELECT a.year, a.id AS id_a, b.id AS id_b, CASE
                WHEN a.fn = b.fn AND a.ln = b.ln THEN 'same_name_and_birth_date'
                WHEN a.fn = b.ln AND a.ln = b.fn THEN 'swapped_names'
                ELSE 'close_name_same_birth_date' END AS rule,
                a.file AS file_a, b.file AS file_b
            FROM own a JOIN own b ON a.year = b.year AND a.bd = b.bd AND a.id < b.id
            WHERE a.ln <> '' AND b.ln <> '' AND (a.g IS NULL OR b.g IS NULL OR a.g = b.g)
              AND ((a.fn = b.fn AND a.ln = b.ln) OR (a.fn = b.ln AND a.ln = b.fn)
                   OR (jaro_winkler_similarity(a.fn, b.fn) >= 0.92
                       AND jaro_winkler_similarity(a.ln, b.ln) >= 0.92)))
        SELECT year, id_a, id_b, min(rule), string_agg(DISTINCT file_a || ' / ' || file_b, '; ')
        FROM pairs GROUP BY ALL ORDER BY ALL""", {"org": org}).fetchall()
    return [IdPair(str(y), source.kind, source.id_label, str(a), str(b), str(rule), str(files))
            for y, a, b, rule, files in rows]


def _failures(con: duckdb.DuckDBPyConnection, org: str) -> list[FailureGroup]:
    year = (f"CASE WHEN f.source_system = 'ccgi' THEN {_CCGI_YEAR} "
            "ELSE coalesce(f.period, 'unknown') END")
    rows = con.execute(f"""
        WITH own AS (SELECT f.file_id, {year} AS year, coalesce(f.kind, 'unidentified') AS kind
                     FROM {tables.FILES} f WHERE {_OWN} AND f.status <> 'superseded'),
        errs AS (SELECT o.year, o.kind, coalesce(e.field, '-') AS field, e.rule, e.file_id,
                        e.line, e.message FROM {tables.LOAD_ERRORS} e JOIN own o USING (file_id)),
        capped AS (  -- files whose receipt counted more errors than were stored
            SELECT r.file_id FROM {tables.RECEIPTS} r JOIN own o USING (file_id)
            WHERE r.error_count > (SELECT count(*) FROM {tables.LOAD_ERRORS} e
                                   WHERE e.file_id = r.file_id))
        SELECT year, kind, field, rule, count(*), count(DISTINCT file_id),
               string_agg(DISTINCT CAST(line AS VARCHAR), ', ') FILTER (WHERE line IS NOT NULL),
               min(message), bool_or(file_id IN (SELECT file_id FROM capped))
        FROM errs GROUP BY year, kind, field, rule
        ORDER BY year DESC, count(*) DESC, kind, field""", {"org": org}).fetchall()
    out = []
    for y, kind, fld, rule, n, files, lines, message, capped in rows:
        first = sorted(int(x) for x in (lines or "").split(", ") if x)[:5]
        out.append(FailureGroup(str(y), str(kind), str(fld), str(rule), int(n), bool(capped),
                                int(files), ", ".join(str(x) for x in first), str(message)))
    return out


def quality_return(con: duckdb.DuckDBPyConnection, org: str) -> QualityReturn:
    """The return for ``org`` from its own accepted files (module doc)."""
    result = QualityReturn(org=org)
    if not table_exists(con, tables.FILES):
        return result
    for source in SOURCES:
        if table_exists(con, source.table):
            result.completeness += _completeness(con, source, org)
            result.pairs += _pairs(con, source, org)
    if table_exists(con, tables.LOAD_ERRORS):
        result.failures = _failures(con, org)
    return result
