"""Build ``analytics.student_year``: person-level outcome facts keyed by person_id only.

The spine is K-12 enrolment: one row per person_id x academic_year x reporting_lea found in
SENR (through ``mdm.crosswalk``). CCGI and college facts attach to that spine by person_id;
a person seen only at a college or only in CCGI has no K-12 year and LEA, so no row (the
summary counts them). Metric definitions live in ``analytics.metrics``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import duckdb

from analytics import metrics
from analytics.warehouse_checks import scan_for_identifiers
from core import calpads, catalog, tables
from core.duck import table_exists, transaction
from core.errors import InternalError
from core.identifiers import require_clean
from core.partner_formats import (
    CCGI_ACTIVITY,
    CERTIFICATE_AWARDS,
    COLLEGE_AWARDS,
    COLLEGE_ENROLLMENTS,
    CTE_SAM_CODES,
    DEGREE_AWARDS,
)


@dataclass(frozen=True)
class OutcomeSummary:
    rows: int
    persons: int
    academic_years: list[str]
    persons_only_in_ccgi: int  # linked persons with CCGI records but no K-12 enrolment
    persons_only_in_college: int  # linked persons with college records but no K-12 enrolment
    metric_counts: dict[str, int] = field(default_factory=dict)  # rows where each outcome is true
    seconds: float = 0.0


def _date(expr: str) -> str:
    """A DATE from a DATE column or a CCYYMMDD / ISO string (staging should already be DATE)."""
    text = f"CAST({expr} AS VARCHAR)"
    return (
        f"coalesce(TRY_CAST({expr} AS DATE), "
        f"CAST(try_strptime({text}, '%Y%m%d') AS DATE))"
    )


def short_year_sql(expr: str) -> str:
    """``2022-2023`` or ``2022-23`` -> ``2022-23`` (core.calpads.short_year in SQL)."""
    start = f"TRY_CAST(substr({expr}, 1, 4) AS INTEGER)"
    return f"(substr({expr}, 1, 4) || '-' || lpad(CAST(({start} + 1) % 100 AS VARCHAR), 2, '0'))"


def term_start_sql(term_id: str) -> str:
    """COMIS GI03 term id ``YYT`` -> the date the term starts (a project rule; docs/metrics.md).

    YY = last two digits of the year the term began (00-69 -> 20YY, 70-99 -> 19YY); T = term
    code: 0-2 winter (1 Jan), 3-4 spring (1 Feb), 5-6 summer (15 Jun), 7-9 fall (15 Aug).
    """
    yy = f"TRY_CAST(substr(trim({term_id}), 1, 2) AS INTEGER)"
    year = f"(CASE WHEN {yy} < 70 THEN 2000 + {yy} ELSE 1900 + {yy} END)"
    t = f"substr(trim({term_id}), 3, 1)"
    return (
        f"(CASE WHEN length(trim({term_id})) <> 3 OR {yy} IS NULL THEN NULL "
        f"WHEN {t} IN ('0', '1', '2') THEN make_date({year}, 1, 1) "
        f"WHEN {t} IN ('3', '4') THEN make_date({year}, 2, 1) "
        f"WHEN {t} IN ('5', '6') THEN make_date({year}, 6, 15) "
        f"WHEN {t} IN ('7', '8', '9') THEN make_date({year}, 8, 15) END)"
    )


def _source(con: duckdb.DuckDBPyConnection, qualified: str, columns: list[str]) -> str:
    """The staging table, or an empty relation with its columns when it was never loaded."""
    if table_exists(con, qualified):
        return qualified
    names = [*columns, *tables.PROVENANCE_COLUMNS]
    cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in names)
    return f"(SELECT {cols} WHERE false)"


def _xwalk(system: str, org: str, pid: str) -> str:
    return (
        f"JOIN {tables.CROSSWALK} x ON x.source_system = '{system}' "
        f"AND x.partner_org = {org} AND x.source_person_id = {pid}"
    )


def _quoted(values: frozenset[str]) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


def _create_working_views(con: duckdb.DuckDBPyConnection) -> None:
    """Temp views keyed by person_id that metric SQL reads (see analytics.metrics)."""
    src = {
        t: _source(con, tables.calpads_staging(t), calpads.staging_columns(t))
        for t in ("SENR", "SINF", "SPRG", "SELA", "SCTE")
    }
    ccgi = _source(con, tables.csv_staging(CCGI_ACTIVITY.kind), list(CCGI_ACTIVITY.columns))
    enr = _source(
        con, tables.csv_staging(COLLEGE_ENROLLMENTS.kind), list(COLLEGE_ENROLLMENTS.columns)
    )
    awards = _source(con, tables.csv_staging(COLLEGE_AWARDS.kind), list(COLLEGE_AWARDS.columns))
    not_deleted = "coalesce(r.transaction_type_code, '') <> 'D'"
    year = short_year_sql("r.academic_year_id")

    con.execute(f"""CREATE OR REPLACE TEMP VIEW _senr AS
        SELECT x.person_id, {year} AS academic_year, r.reporting_lea,
               r.school_of_attendance, r.grade_level_code, r.completion_status_code,
               {_date('r.enrollment_start_date')} AS start_date,
               {_date('r.enrollment_exit_date')} AS exit_date,
               r.gender, year({_date('r.birth_date')}) AS birth_year
        FROM {src['SENR']} r {_xwalk('calpads', 'r.reporting_lea', 'r.ssid')}
        WHERE {not_deleted}""")
    leaver = (
        "(coalesce(completion_status_code, '') <> '' "
        "OR (grade_level_code = '12' AND exit_date IS NOT NULL))"
    )
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _spine AS
        SELECT person_id, academic_year, reporting_lea,
               make_date(CAST(substr(academic_year, 1, 4) AS INTEGER) + 1, 6, 30) AS year_end,
               arg_max(school_of_attendance, start_date) AS school_code,
               arg_max(grade_level_code, start_date) AS grade_level,
               max(coalesce(exit_date, make_date(
                   CAST(substr(academic_year, 1, 4) AS INTEGER) + 1, 6, 30)))
                   FILTER (WHERE {leaver}) AS hs_exit_date,
               coalesce(bool_or(completion_status_code =
                   '{calpads.COMPLETION_STANDARD_DIPLOMA}'), false) AS completed_100,
               arg_max(gender, start_date) AS senr_gender,
               arg_max(birth_year, start_date) AS senr_birth_year
        FROM _senr GROUP BY person_id, academic_year, reporting_lea""")

    races = [f"race_{i}" for i in range(1, 6)]
    groups = ", ".join(metrics.race_group_sql(f"r.{c}") for c in races)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _sinf AS
        SELECT person_id,
               arg_max(hispanic_indicator, k) AS hispanic,
               arg_max(race_groups, k) AS race_groups,
               arg_max(gender, k) AS gender,
               arg_max(birth_year, k) AS birth_year
        FROM (SELECT x.person_id, r.hispanic_indicator, r.gender,
                     year({_date('r.birth_date')}) AS birth_year,
                     list_distinct(list_filter([{groups}], g -> g IS NOT NULL)) AS race_groups,
                     ({year} || coalesce(CAST({_date('r.effective_start_date')} AS VARCHAR), '')
                      || lpad(CAST(r.line_no AS VARCHAR), 12, '0')) AS k
              FROM {src['SINF']} r {_xwalk('calpads', 'r.reporting_lea', 'r.ssid')}
              WHERE {not_deleted})
        GROUP BY person_id""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _sprg AS
        SELECT DISTINCT x.person_id, {year} AS academic_year, r.reporting_lea,
               r.education_program_code AS program
        FROM {src['SPRG']} r {_xwalk('calpads', 'r.reporting_lea', 'r.ssid')}
        WHERE {not_deleted}""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _sela AS
        SELECT x.person_id, r.ela_status_code AS status,
               coalesce({_date('r.ela_status_start_date')},
                        make_date(CAST(substr(r.academic_year_id, 1, 4) AS INTEGER), 7, 1))
                   AS status_date
        FROM {src['SELA']} r {_xwalk('calpads', 'r.reporting_lea', 'r.ssid')}
        WHERE {not_deleted}""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _scte AS
        SELECT x.person_id, {year} AS academic_year, r.reporting_lea,
               coalesce(trim(r.cte_pathway_completion_year), '') <> '' AS completed
        FROM {src['SCTE']} r {_xwalk('calpads', 'r.reporting_lea', 'r.ssid')}
        WHERE {not_deleted}""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _ccgi AS
        SELECT x.person_id, {_date('r.activity_week')} AS activity_week,
               {_date('r.account_created_date')} AS account_created,
               r.cccapply_status AS cccapply, r.csu_apply_status AS csu,
               r.uc_apply_status AS uc, r.fafsa_status AS fafsa, r.cadaa_status AS cadaa,
               r.ag_eligible AS ag
        FROM {ccgi} r {_xwalk('ccgi', "'CCGI'", 'r.ccgi_account_id')}""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _cc_terms AS
        SELECT x.person_id, {term_start_sql('r.term_id')} AS term_start,
               sum(CASE WHEN r.sam_code IN ({_quoted(CTE_SAM_CODES)})
                        THEN coalesce(TRY_CAST(r.units_earned AS DOUBLE), 0) ELSE 0 END)
                   AS cte_units
        FROM {enr} r {_xwalk('college', 'r.college_code', 'r.student_id')}
        GROUP BY ALL""")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _cc_awards AS
        SELECT x.person_id,
               coalesce({_date('r.award_date')}, {term_start_sql('r.term_id')}) AS award_on
        FROM {awards} r {_xwalk('college', 'r.college_code', 'r.student_id')}
        WHERE r.award_type IN ({_quoted(DEGREE_AWARDS | CERTIFICATE_AWARDS)})""")


def _race_sql() -> str:
    return (
        f"CASE WHEN p.hispanic = 'Y' THEN '{metrics.HISPANIC}' "
        f"WHEN len(coalesce(p.race_groups, [])) = 0 THEN '{metrics.NOT_REPORTED}' "
        f"WHEN len(p.race_groups) > 1 THEN '{metrics.TWO_OR_MORE}' "
        "ELSE p.race_groups[1] END"
    )


def _gender_sql() -> str:
    return (
        "CASE WHEN coalesce(p.gender, s.senr_gender) IN ('M', 'F', 'X') "
        "THEN coalesce(p.gender, s.senr_gender) ELSE 'unknown' END"
    )


def _program_sql(codes: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{c}'" for c in codes)
    return (
        "EXISTS (SELECT 1 FROM _sprg g WHERE g.person_id = s.person_id "
        "AND g.academic_year = s.academic_year AND g.reporting_lea = s.reporting_lea "
        f"AND g.program IN ({quoted}))"
    )


# Subgroup and quasi-identifier columns (the outcome columns come from analytics.metrics).
# English learner: the latest SELA status dated on or before the end of the year is EL.
COLUMN_SQL: dict[str, str] = {
    "person_id": "s.person_id",
    "academic_year": "s.academic_year",
    "reporting_lea": "s.reporting_lea",
    "county_code": "substr(s.reporting_lea, 1, 2)",
    "school_code": "s.school_code",
    "grade_level": "s.grade_level",
    "birth_year": "CAST(coalesce(p.birth_year, s.senr_birth_year) AS INTEGER)",
    "gender": _gender_sql(),
    "race_ethnicity": _race_sql(),
    "socioeconomically_disadvantaged": _program_sql(
        (calpads.PROGRAM_FREE_MEAL, calpads.PROGRAM_REDUCED_MEAL)
    ),
    "homeless": _program_sql((calpads.PROGRAM_HOMELESS,)),
    "english_learner": (
        "coalesce((SELECT arg_max(e.status, e.status_date) FROM _sela e "
        "WHERE e.person_id = s.person_id AND e.status_date <= s.year_end) = 'EL', false)"
    ),
    "hs_leaver": "s.hs_exit_date IS NOT NULL",
}


def _select_list() -> str:
    exprs = {**COLUMN_SQL, **{m.name: f"coalesce({m.sql}, false)" for m in metrics.METRICS}}
    missing = [v.name for v in catalog.VARIABLES if v.name not in exprs]
    if missing:
        raise InternalError(f"catalog variables without a definition: {missing}")
    return ",\n".join(
        f"CAST({exprs[v.name]} AS {v.dtype}) AS {v.name}" for v in catalog.VARIABLES
    )


def build_outcomes(con: duckdb.DuckDBPyConnection) -> OutcomeSummary:
    """Rebuild ``analytics.student_year`` in one transaction; fail if an identifier appears.

    Raises InternalError (and leaves the previous table in place) when the identifier scan
    finds anything in ``analytics.*``.
    """
    started = time.perf_counter()
    if not table_exists(con, tables.CROSSWALK):
        raise InternalError(f"{tables.CROSSWALK} is missing: run the link first")
    _create_working_views(con)
    con.execute("""CREATE OR REPLACE TEMP VIEW _spine_cc AS
        SELECT sp.*, (SELECT min(t.term_start) FROM _cc_terms t
                      WHERE t.person_id = sp.person_id AND t.term_start >= sp.hs_exit_date
                        AND t.term_start <= sp.hs_exit_date + INTERVAL 1 YEAR)
                     AS first_cc_term_start
        FROM _spine sp""")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {tables.ANALYTICS}")
    with transaction(con):
        con.execute(f"""CREATE OR REPLACE TABLE {catalog.STUDENT_YEAR} AS
            SELECT {_select_list()}
            FROM _spine_cc s LEFT JOIN _sinf p ON p.person_id = s.person_id
            ORDER BY academic_year, reporting_lea, person_id""")
        findings = scan_for_identifiers(con, schema=tables.ANALYTICS)
        require_clean(findings, "analytics build")
    return _summary(con, time.perf_counter() - started)


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _summary(con: duckdb.DuckDBPyConnection, seconds: float) -> OutcomeSummary:
    table = catalog.STUDENT_YEAR
    years = [r[0] for r in con.execute(
        f"SELECT DISTINCT academic_year FROM {table} ORDER BY 1").fetchall()]
    counts = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {m})" for m in catalog.OUTCOMES)
        + f" FROM {table}"
    ).fetchone()
    k12 = "(SELECT DISTINCT person_id FROM _spine)"
    return OutcomeSummary(
        rows=_count(con, f"SELECT count(*) FROM {table}"),
        persons=_count(con, f"SELECT count(DISTINCT person_id) FROM {table}"),
        academic_years=years,
        persons_only_in_ccgi=_count(
            con, f"SELECT count(DISTINCT person_id) FROM _ccgi WHERE person_id NOT IN {k12}"),
        persons_only_in_college=_count(
            con,
            "SELECT count(DISTINCT person_id) FROM (SELECT person_id FROM _cc_terms "
            f"UNION ALL SELECT person_id FROM _cc_awards) WHERE person_id NOT IN {k12}",
        ),
        metric_counts=dict(zip(catalog.OUTCOMES, (int(c) for c in counts or ()), strict=True)),
        seconds=round(seconds, 3),
    )
