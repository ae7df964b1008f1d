"""Build research extracts (docs/deidentify.md); opening and verifying is ``deidentify.opening``,
key files ``deidentify.keyfiles``, the package's file names ``deidentify.contents``.

``build_extract`` turns an approved individual-level request into an encrypted package:
only the requested catalog variables of ``analytics.student_year`` under the cohort filter,
``person_id`` replaced by a per-request pseudonym, quasi-identifiers generalised until
k-anonymity holds, the remaining small classes suppressed and counted, then whole persons
suppressed and counted whose multi-year pattern is shared by fewer than k people (over the
quasi-identifiers, and over them with the variables an earlier extract of another request
also holds: ``deidentify.crossextract``), a scan for anything that looks like a direct
identifier, then Parquet + CSV + manifest.json in a tar archive encrypted with age to a random
per-extract X25519 key kept wrapped in the keyring (deidentify.package).

The de-identified rows live in a DuckDB temporary table (spilling to the encrypted temp
directory) and are streamed out in record batches; no plaintext file is ever written.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from core.catalog import STUDENT_YEAR, VARIABLE_BY_NAME
from core.cohort import request_where
from core.duck import StageTimer
from core.errors import (
    Conflict,
    Expired,
    InputRejected,
    Location,
)
from core.keys import KeyProvider
from core.linkage_basis import linkage_basis
from core.protection import K_ANONYMITY, MAX_SUPPRESSION, require_k, require_max_suppression
from core.requests import ApprovedRequest, RequestKind
from deidentify import generalise, scan
from deidentify.contents import DATA_CSV, DATA_PARQUET, MANIFEST, PACKAGE_SUFFIX
from deidentify.crossextract import CrossExtract, EarlierExtracts, cross_extract
from deidentify.package import (
    EntrySink,
    FileDigest,
    PackageHeader,
    utc,
    write_package,
)
from deidentify.pseudonym import PSEUDONYM_COLUMN, SCHEME, pseudonym_batches, pseudonym_key

_BATCH_ROWS = 262_144
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Per-person verdicts of ``_judge``: released, or suppressed by which pattern rule.
_VERDICT = "_c2c_verdict"
RELEASED, PATTERN, LINKAGE = 0, 1, 2


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureReport:
    """What disclosure control did to one extract (also in its manifest)."""

    k: int
    quasi_identifiers: list[str]
    generalisations: dict[str, str]  # quasi-identifier -> rung released
    rows_before_suppression: int
    suppressed_rows: int
    released_rows: int
    equivalence_classes: int
    smallest_class: int | None  # distinct persons in the smallest released class
    max_suppression: float
    steps: list[dict[str, Any]]
    scan: str
    # Persons (with all their rows) whose multi-year quasi-identifier pattern is rarer than k.
    pattern_suppressed_rows: int = 0
    pattern_suppressed_persons: int = 0
    # Earlier extracts of other requests considered, the variables this one shares with them,
    # and the persons suppressed because their pattern over those was rarer than k.
    cross_extract: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExtractResult:
    """A built package. Carries no key material."""

    request_id: str
    package_path: Path
    package_sha256: str
    package_bytes: int
    rows: int
    suppressed_rows: int
    variables: list[str]  # columns of the released data files
    created_at: datetime
    expires_at: datetime
    disclosure: DisclosureReport | None  # None for aggregate tables (suppressed upstream)
    manifest: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


# -- request checks ------------------------------------------------------------------------


def _reject(request_id: str, field_name: str, value: object, rule: str) -> InputRejected:
    where = Location(file=f"request {request_id}", field=field_name, value=str(value), rule=rule)
    return InputRejected("request cannot be built", where)


def _check_request(request: ApprovedRequest, now: datetime) -> None:
    if not _REQUEST_ID.match(request.request_id):
        raise _reject(request.request_id, "request_id", request.request_id,
                      "letters, digits, '.', '_' or '-', at most 64")
    if utc(now) >= utc(request.expires_at):
        raise Expired(f"request {request.request_id} expired at {utc(request.expires_at)}")


def _check_variables(request: ApprovedRequest) -> list[str]:
    variables = list(dict.fromkeys(request.variables))
    if not variables:
        raise _reject(request.request_id, "variables", "[]", "at least one catalog variable")
    for name in variables:
        if name not in VARIABLE_BY_NAME:
            raise _reject(request.request_id, "variables", name, "not in the variable catalog")
    return variables


# -- build -------------------------------------------------------------------------------


def _quoted(column: str) -> str:
    return f'"{column}"'


def _now_iso(moment: datetime) -> str:
    return utc(moment).isoformat()


ReaderFactory = Callable[[], pa.RecordBatchReader]


def _write_data_files(
    writer_files: Callable[[str], AbstractContextManager[EntrySink]], reader_factory: ReaderFactory
) -> None:
    """Stream the rows twice (Parquet, then CSV) from ``reader_factory()`` into the package."""
    reader: pa.RecordBatchReader = reader_factory()
    with writer_files(DATA_PARQUET) as sink:
        parquet = pq.ParquetWriter(sink, reader.schema, compression="zstd")
        for batch in reader:
            parquet.write_batch(batch)
        parquet.close()
    reader = reader_factory()
    with writer_files(DATA_CSV) as sink:
        csv = pacsv.CSVWriter(sink, reader.schema)
        for batch in reader:
            csv.write_batch(batch)
        csv.close()


def _seal(
    request: ApprovedRequest,
    keys: KeyProvider,
    out_dir: Path,
    now: datetime,
    reader_factory: ReaderFactory,
    manifest: dict[str, Any],
) -> tuple[Path, FileDigest, dict[str, Any]]:
    """Write the package; returns its path and digest, and the manifest with file digests."""
    header = PackageHeader.new(request.request_id, now, request.expires_at)
    data_key = keys.stored_key(header.key_name)
    path = out_dir / f"{request.request_id}{PACKAGE_SUFFIX}"
    with write_package(path, data_key, header) as writer:
        _write_data_files(writer.file, reader_factory)
        manifest["files"] = {
            name: {"sha256": digest.sha256, "bytes": digest.bytes}
            for name, digest in writer.digests.items()
        }
        writer.add_bytes(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    assert writer.package is not None
    return path, writer.package, manifest


def _base_manifest(request: ApprovedRequest, now: datetime) -> dict[str, Any]:
    return {
        "format": "c2c-extract-manifest",
        "version": 1,
        "request_id": request.request_id,
        "kind": str(request.kind),
        "title": request.title,
        "requester": request.requester,
        "created_at": _now_iso(now),
        "expires_at": _now_iso(request.expires_at),
        "cohort": request.cohort.model_dump(mode="json"),
        "requested_variables": list(request.variables),
    }


@dataclass(frozen=True)
class Protection:
    """What disclosure control does to one request's cohort, counted before anything leaves:
    the row-level plan (generalise, suppress small row classes), then the per-person pattern
    rule over the quasi-identifiers and the variables shared with earlier extracts."""

    plan: generalise.Plan
    cross: CrossExtract
    released_rows: int
    released_persons: int
    pattern_suppressed_rows: int  # persons whose quasi-identifier pattern is rarer than k
    pattern_suppressed_persons: int
    linkage_suppressed_rows: int  # ... whose pattern with the linkage variables is rarer than k
    linkage_suppressed_persons: int
    classes: int  # released row classes (each of at least k persons)
    smallest_class: int | None

    @property
    def k(self) -> int:
        return self.plan.k

    @property
    def rows(self) -> int:
        return self.plan.rows

    @property
    def persons(self) -> int:
        return self.plan.persons

    @property
    def suppressed_rows(self) -> int:
        return self.plan.rows - self.released_rows

    def rung_names(self) -> dict[str, str]:
        return self.plan.rung_names()


@dataclass(frozen=True)
class _Columns:
    quasi: list[str]
    outputs: list[str]  # requested variables except person_id, in request order


def released_names(outputs: list[str], plan: generalise.Plan) -> dict[str, str]:
    """The column name each output is released under. A quasi-identifier generalised to
    another column's values is named after what it now holds (``reporting_lea`` raised to
    county codes is released as ``county_code``), so no column says one thing and holds
    another; ``<column>_as_<rung>`` when that name is taken. Bands and withheld values keep
    the column's name (a birth-year band is still a birth year; ``*`` holds nothing)."""
    names = {c: c for c in outputs}
    for column, rung in plan.rung_names().items():
        if column not in names or rung == column or rung not in generalise.LADDERS:
            continue
        taken = set(names.values()) - {column}
        names[column] = rung if rung not in taken else f"{column}_as_{rung}"
    return names


def _select_cohort(
    con: duckdb.DuckDBPyConnection, request: ApprovedRequest, variables: list[str], src: str
) -> _Columns:
    """The cohort's rows of the requested columns (and the ladders' helpers) into ``src``."""
    where, params = request_where(request)
    quasi = generalise.quasi_identifiers_in(variables)
    outputs = [v for v in variables if v != "person_id"]
    source_columns = list(dict.fromkeys(outputs + sorted(generalise.source_columns_for(quasi))))
    select = ", ".join(["CAST(person_id AS VARCHAR) AS person_id"]
                       + [_quoted(c) for c in source_columns])
    con.execute(f"CREATE TEMP TABLE {src} AS SELECT {select} FROM {STUDENT_YEAR} WHERE {where}",
                params)
    return _Columns(quasi, outputs)


def _pattern(columns: list[str]) -> str:
    """SQL over a person's rows (grouped by person): how many rows, and each row's values of
    ``columns``, in a canonical order. Equal for two people exactly when their rows are."""
    if not columns:
        # No quasi-identifier: a person's pattern is how many rows they have (``ORDER BY ''``
        # was a DuckDB error that failed every fulfilment run after such a request).
        return "CAST(count(*) AS VARCHAR)"
    row = (f"CAST(struct_pack({', '.join(f'{_quoted(c)} := {_quoted(c)}' for c in columns)})"
           " AS VARCHAR)")
    return f"count(*) || chr(30) || string_agg({row}, chr(31) ORDER BY {row})"


def _judge(
    con: duckdb.DuckDBPyConnection, src: str, kept: str, plan: generalise.Plan,
    columns: _Columns, linkage: list[str], k: int,
) -> None:
    """The generalised rows that survive the row-level search into ``kept``, each with the
    verdict of the per-person rules for its person (``RELEASED`` or why not).

    k per person, not only per row: a person's rows together (their multi-year pattern of
    generalised quasi-identifiers, and how many rows they have) must be shared by at least k
    people, else the pattern singles them out across rows (``PATTERN``). Every row class then
    still has k people: the k people sharing a pattern share each of its rows.

    Across extracts: the pattern taken over the quasi-identifiers *and* the variables an
    earlier extract of another request also holds must be shared by at least k people too
    (``LINKAGE``). Then whatever someone holding both extracts compares (any projection of
    those rows: the overlapping years, coarser rungs) fits at least k people of this extract,
    so no one pairs one-to-one with a person of the other."""
    exprs = plan.expressions()
    projected = ", ".join(
        ["person_id"] + [f"{exprs.get(c, _quoted(c))} AS {_quoted(c)}" for c in columns.outputs])
    extra = [c for c in linkage if c not in columns.quasi]
    # Without linkage variables beyond the quasi-identifiers the second pattern is the first:
    # not computed at all, so a request that shares nothing costs what it did before.
    patterns = f"{_pattern(columns.quasi)} AS pat_q" + (
        f", {_pattern(columns.quasi + extra)} AS pat" if extra else "")
    linkage_rule = (f"WHEN count(*) OVER (PARTITION BY pat) < {int(k)} THEN {LINKAGE}"
                    if extra else "")
    con.execute(
        f"""CREATE TEMP TABLE {kept} AS
        WITH g AS (SELECT {projected} FROM {src}),
             rowkept AS (SELECT g.* FROM g {_keep_clause(plan, columns.quasi, k)}),
             pattern AS (SELECT person_id, {patterns} FROM rowkept GROUP BY person_id),
             judged AS (
                 SELECT person_id,
                        CASE WHEN count(*) OVER (PARTITION BY pat_q) < {int(k)} THEN {PATTERN}
                             {linkage_rule}
                             ELSE {RELEASED} END AS {_VERDICT}
                 FROM pattern)
        SELECT rowkept.*, judged.{_VERDICT} FROM rowkept JOIN judged USING (person_id)"""
    )


def _protection(
    con: duckdb.DuckDBPyConnection, kept: str, plan: generalise.Plan, quasi: list[str],
    cross: CrossExtract,
) -> Protection:
    """Count what ``_judge`` left in ``kept``: rows and persons per verdict, released classes."""
    counts = {int(v): (int(r), int(p)) for v, r, p in con.execute(
        f"SELECT {_VERDICT}, count(*), count(DISTINCT person_id) FROM {kept} GROUP BY ALL"
    ).fetchall()}
    group = f"GROUP BY {', '.join(_quoted(q) for q in quasi)}" if quasi else ""
    classes = con.execute(
        f"""SELECT count(*), min(n) FROM (
            SELECT count(DISTINCT person_id) AS n FROM {kept} WHERE {_VERDICT} = {RELEASED}
            {group} HAVING count(*) > 0)"""
    ).fetchone()
    assert classes is not None
    released, pattern, linkage = (counts.get(v, (0, 0)) for v in (RELEASED, PATTERN, LINKAGE))
    return Protection(
        plan=plan, cross=cross, released_rows=released[0], released_persons=released[1],
        pattern_suppressed_rows=pattern[0], pattern_suppressed_persons=pattern[1],
        linkage_suppressed_rows=linkage[0], linkage_suppressed_persons=linkage[1],
        classes=int(classes[0]), smallest_class=None if classes[1] is None else int(classes[1]),
    )


def _protect(
    con: duckdb.DuckDBPyConnection, src: str, kept: str, columns: _Columns, plan: generalise.Plan,
    cross: CrossExtract, k: int,
) -> Protection:
    """Judge the rows of ``src`` into ``kept`` under ``plan``. While the cross-extract rule
    suppresses rows and the total suppressed is over the budget (``max_suppression``), raise
    one more rung (the search's own choice) and judge again: coarser quasi-identifiers make
    patterns that more people share, so fewer of them are lost. A request that shares nothing
    with an earlier extract is judged once, as before."""
    budget = int(plan.max_suppression * plan.rows)
    while True:
        con.execute(f"DROP TABLE IF EXISTS {kept}")
        _judge(con, src, kept, plan, columns, cross.linkage_variables, k)
        protection = _protection(con, kept, plan, columns.quasi, cross)
        if not protection.linkage_suppressed_rows or protection.suppressed_rows <= budget:
            return protection
        coarser = generalise.coarsen(con, src, plan, protection.suppressed_rows,
                                     "cross-extract")
        if coarser is None:
            return protection
        plan = coarser


def plan_for_request(
    con: duckdb.DuckDBPyConnection,
    request: ApprovedRequest,
    *,
    earlier_extracts: EarlierExtracts,
    k: int = K_ANONYMITY,
    max_suppression: float = MAX_SUPPRESSION,
) -> Protection:
    """What ``build_extract`` would do to ``request`` today, without building anything: the
    rows, the rung each quasi-identifier would be generalised to (``withheld`` = dropped) and
    the rows suppressed at ``k``, per rule. The disclosure preview a researcher and the board
    see before approval; the same code as the build up to the pseudonyms, so the preview cannot
    drift from it. ``earlier_extracts`` as for ``build_extract``."""
    require_k(k)
    require_max_suppression(max_suppression)
    variables = _check_variables(request)
    tag = secrets.token_hex(4)
    src, kept = f"_deid_preview_{tag}", f"_deid_preview_kept_{tag}"
    try:
        columns = _select_cohort(con, request, variables, src)
        plan = generalise.plan_generalisation(con, src, columns.quasi, k=k,
                                              max_suppression=max_suppression)
        cross = cross_extract(request.request_id, columns.outputs, earlier_extracts)
        return _protect(con, src, kept, columns, plan, cross, k)
    finally:
        for table in (src, kept):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def build_extract(
    con: duckdb.DuckDBPyConnection,
    request: ApprovedRequest,
    keys: KeyProvider,
    out_dir: Path,
    *,
    earlier_extracts: EarlierExtracts,
    k: int = K_ANONYMITY,
    now: datetime,
    max_suppression: float = MAX_SUPPRESSION,
    on_released: Callable[[str], None] | None = None,
) -> ExtractResult:
    """Build the encrypted extract for an approved individual-level request.

    ``on_released``, if given, is called with a query yielding the ``person_id`` of every
    person the extract releases (while it can still be read), so the caller can record the
    cohort: a later link run tells the holder how many of their ids changed.

    ``earlier_extracts``: every individual-level extract already built for another request
    (expired ones too: copies may be kept), as request id -> the variables it released, or
    None where that is not known (treated as sharing every variable). The caller reads them
    from the governance store; ``{}`` only where there truly are none.
    ``max_suppression`` is the share of rows the k-anonymity search may suppress before it
    generalises further. Raises ``Expired``, ``InputRejected`` (unknown variable or filter),
    ``Conflict`` (not an individual-level request) or ``scan.IdentifierFound``.
    """
    require_k(k)
    require_max_suppression(max_suppression)
    _check_request(request, now)
    if request.kind != RequestKind.INDIVIDUAL:
        raise Conflict(f"request {request.request_id} is {request.kind}: aggregate tables are "
                       "made by analytics and packaged with package_table")
    variables = _check_variables(request)
    wants_pseudonym = "person_id" in variables

    tag = secrets.token_hex(4)
    src, kept, out = f"_deid_src_{tag}", f"_deid_kept_{tag}", f"_deid_out_{tag}"
    pseudo = f"_deid_pseudo_{tag}"
    timer = StageTimer()
    lap, timings = timer.lap, timer.stages

    try:
        columns = _select_cohort(con, request, variables, src)
        outputs = columns.outputs
        lap("select")
        plan = generalise.plan_generalisation(
            con, src, columns.quasi, k=k, max_suppression=max_suppression
        )
        lap("generalise")
        cross = cross_extract(request.request_id, outputs, earlier_extracts)
        protection = _protect(con, src, kept, columns, plan, cross, k)
        plan = protection.plan  # coarser than the row-level search's if linkage needed it
        con.execute(f"DROP TABLE {src}")
        lap("protect")

        released = (f"(SELECT * EXCLUDE ({_VERDICT}) FROM {kept} "
                    f"WHERE {_VERDICT} = {RELEASED}) kept")
        named = released_names(outputs, plan)
        if wants_pseudonym:
            mapping = _pseudonym_mapping(con, kept, keys, request.request_id)
            con.register(pseudo, mapping)
            lap("pseudonymise")
            selected = ", ".join([f"p.{PSEUDONYM_COLUMN}"] + [
                f'kept."{c}" AS "{named[c]}"' for c in outputs])
            joined = f"{released} JOIN {pseudo} p ON kept.person_id = p.person_id"
        else:
            selected = ", ".join(f'kept."{c}" AS "{named[c]}"' for c in outputs)
            joined = released
        order = _release_order(outputs, wants_pseudonym)
        con.execute(f"CREATE TEMP TABLE {out} AS SELECT {selected} FROM {joined} ORDER BY {order}")
        if wants_pseudonym:
            con.unregister(pseudo)
            del mapping
        if on_released is not None:
            on_released(f"SELECT person_id FROM {kept} WHERE {_VERDICT} = {RELEASED}")
        con.execute(f"DROP TABLE {kept}")
        lap("apply")

        released_columns, released_rows = _scan_released(con, out, request.request_id)
        # Rows suppressed by the row-level search and by the per-person pattern rules.
        suppressed_rows = plan.rows - released_rows
        lap("scan")

        disclosure = _disclosure_report(protection, max_suppression)
        manifest = _base_manifest(request, now) | {
            "linkage": linkage_basis(con),  # says whether any provisional link is used
            "variables": released_columns,
            "rows": released_rows,
            "suppressed_rows": suppressed_rows,
            "pseudonym": {"column": PSEUDONYM_COLUMN, "scheme": SCHEME} if wants_pseudonym
            else None,
            "disclosure": disclosure.to_dict(),
        }
        path, digest, manifest = _seal(
            request, keys, out_dir, now,
            lambda: con.execute(f"SELECT * FROM {out}").fetch_record_batch(_BATCH_ROWS),
            manifest,
        )
        lap("package")
    finally:
        for table in (src, kept, out):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return ExtractResult(
        request_id=request.request_id,
        package_path=path,
        package_sha256=digest.sha256,
        package_bytes=digest.bytes,
        rows=released_rows,
        suppressed_rows=suppressed_rows,
        variables=released_columns,
        created_at=utc(now),
        expires_at=utc(request.expires_at),
        disclosure=disclosure,
        manifest=manifest,
        timings=timings,
    )


def _keep_clause(plan: generalise.Plan, quasi: list[str], k: int) -> str:
    """SQL over ``g`` (the generalised rows) keeping only classes of at least ``k`` persons."""
    if plan.suppressed_rows == 0:
        return ""  # the search's last evaluation found no class smaller than k
    if quasi:
        keys_sql = ", ".join(f'"{q}"' for q in quasi)
        on = " AND ".join(f'g."{q}" IS NOT DISTINCT FROM ok."{q}"' for q in quasi)
        return (f"SEMI JOIN (SELECT {keys_sql} FROM g GROUP BY ALL "
                f"HAVING count(DISTINCT person_id) >= {int(k)}) ok ON {on}")
    return f"WHERE (SELECT count(DISTINCT person_id) FROM g) >= {int(k)}"


def _pseudonym_mapping(
    con: duckdb.DuckDBPyConnection, kept: str, keys: KeyProvider, request_id: str
) -> pa.Table:
    """person_id -> this request's pseudonym, for every person released from ``kept``."""
    key = pseudonym_key(keys, request_id)
    ids = con.execute(f"SELECT DISTINCT person_id FROM {kept} WHERE {_VERDICT} = {RELEASED}"
                      ).fetch_record_batch(_BATCH_ROWS)
    mapping = pa.Table.from_batches(
        list(pseudonym_batches(ids, key)),
        schema=pa.schema([("person_id", pa.string()), (PSEUDONYM_COLUMN, pa.string())]),
    )
    del key
    return mapping


def _release_order(outputs: list[str], wants_pseudonym: bool) -> str:
    """A total, deterministic order that reveals nothing about person_id: rows grouped by
    person in pseudonym-hash order, then by year, then by a hash of the whole row (only
    identical rows can tie, and their order does not matter). Integer keys sort far faster
    than ORDER BY ALL over every column."""
    qualified = [f'kept."{c}"' for c in outputs]
    if wants_pseudonym:
        qualified.insert(0, f"p.{PSEUDONYM_COLUMN}")
    order_keys = [f"hash(p.{PSEUDONYM_COLUMN})"] if wants_pseudonym else []
    order_keys += ['kept."academic_year"'] if "academic_year" in outputs else []
    order_keys.append(f"hash({', '.join(qualified)})")
    return ", ".join(order_keys)


def _scan_released(
    con: duckdb.DuckDBPyConnection, out: str, request_id: str
) -> tuple[list[str], int]:
    """The identifier scan over the released rows' distinct values; (columns, rows)."""
    released_columns = [str(r[0]) for r in con.execute(f"DESCRIBE {out}").fetchall()]
    distinct = {
        c: con.execute(f'SELECT DISTINCT "{c}" FROM {out}').fetch_arrow_table().column(0)
        for c in released_columns
        if c != PSEUDONYM_COLUMN  # made here by HMAC: 32 hex characters by construction
    }
    scan.require_clean(scan.scan_columns(distinct), f"extract for {request_id}")
    released = con.execute(f"SELECT count(*) FROM {out}").fetchone()
    return released_columns, int(released[0]) if released else 0


def _disclosure_report(protection: Protection, max_suppression: float) -> DisclosureReport:
    plan, cross = protection.plan, protection.cross
    return DisclosureReport(
        k=plan.k,
        quasi_identifiers=plan.quasi_identifiers,
        generalisations=plan.rung_names(),
        rows_before_suppression=plan.rows,
        suppressed_rows=protection.suppressed_rows,  # row-level and per-person suppression
        released_rows=protection.released_rows,
        equivalence_classes=protection.classes,
        smallest_class=protection.smallest_class,
        max_suppression=max_suppression,
        steps=[asdict(step) for step in plan.steps],
        scan="passed",
        pattern_suppressed_rows=protection.pattern_suppressed_rows,
        pattern_suppressed_persons=protection.pattern_suppressed_persons,
        cross_extract={
            "earlier_requests": cross.earlier_requests,
            "variables_unknown_for": cross.unknown_requests,
            "linked_requests": cross.linked_requests,
            "linkage_variables": cross.linkage_variables,
            "suppressed_rows": protection.linkage_suppressed_rows,
            "suppressed_persons": protection.linkage_suppressed_persons,
        },
    )


def package_table(
    table: pa.Table,
    request: ApprovedRequest,
    keys: KeyProvider,
    out_dir: Path,
    now: datetime,
    linkage: dict[str, Any] | None = None,
) -> ExtractResult:
    """Package an aggregate table (already suppressed by analytics) for an aggregate request.
    ``linkage``: what its person ids rest on (``core.linkage_basis``), for the manifest."""
    _check_request(request, now)
    if request.kind != RequestKind.AGGREGATE:
        raise Conflict(f"request {request.request_id} is {request.kind}: individual-level "
                       "extracts are built with build_extract")
    scan.require_clean(scan.scan_table(table), f"aggregate table for {request.request_id}")
    manifest = _base_manifest(request, now) | {
        "linkage": linkage,
        "variables": list(table.column_names),
        "group_by": list(request.group_by),
        "rows": table.num_rows,
        "suppressed_rows": 0,
        "pseudonym": None,
        "disclosure": {"method": "aggregate table; small cells suppressed by analytics",
                       "scan": "passed"},
    }
    path, digest, manifest = _seal(
        request, keys, out_dir, now,
        lambda: pa.RecordBatchReader.from_batches(table.schema, table.to_batches(_BATCH_ROWS)),
        manifest,
    )
    return ExtractResult(
        request_id=request.request_id,
        package_path=path,
        package_sha256=digest.sha256,
        package_bytes=digest.bytes,
        rows=table.num_rows,
        suppressed_rows=0,
        variables=list(table.column_names),
        created_at=utc(now),
        expires_at=utc(request.expires_at),
        disclosure=None,
        manifest=manifest,
    )
