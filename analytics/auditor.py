"""The standing attacker: before each release, attack everything released so far.

Runs before every snapshot publish (``analytics.publish``), before every aggregate request
table leaves (an automated output check, ``analytics.request_table_checks``) and as a Dagster asset
check. It is the LP attacker of ``tests/analytics/test_disclosure.py`` pointed at the service's
own releases (docs/metrics.md, "The standing attacker"):

- **knowledge**: every cell of the snapshot (``analytics.aggregates``: what is, or is about to
  be, published), every aggregate request table released so far
  (``analytics.released_request_cells``) and the candidate table; a shown count V means a true
  count in [max(V - 4, threshold), V + 4]; a hidden denominator is under the shown floor; sums
  hold exactly (subgroup values -> ``all``, LEAs -> ``STATE``, a request cell = the sum of the
  snapshot's cells of its LEAs); 0 <= numerator <= denominator;
- **attack**: for every hidden count of an LEA at the edge of some request's cohort (inside
  a cohort of fewer than all LEAs, or outside one: where differencing and averaging across
  overlapping tables can work), the tightest range by linear programming (two LPs each);
- **verdict**: any range narrower than ``AUDIT_MIN_RANGE`` (2: fewer than three candidate
  values) holds the release, with the cells named.

Without request tables nothing couples one LEA's cells to another's beyond the published sums,
which the rounding alone protects (the property test proves it), so a snapshot with no request
released has no target and passes at once. Request cells whose shape the snapshot does not
publish (grade or subgroup filters, two subgroups both not ``all``) add no constraint here:
they are new unknowns, not sums of published ones; their one-variable margins are used.
Previews are coarse bands (``core.gate.gate_band``), intervals far wider than +-4, so they add
nothing to this LP and are left out of it.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from analytics.metrics import ALL, METRIC_BY_NAME, STATE, SUBGROUP_DOMAINS
from core import tables
from core.gate import ROUNDING_BASE, effective_min_cell, shown_floor
from core.protection import AUDIT_MIN_RANGE

RELEASES = f"{tables.ANALYTICS}.released_request_cells"

# (year, lea, subgroup, value, metric) -> (numerator, denominator) as released
Cells = dict[tuple[str, str, str, str, str], tuple[int | None, int | None]]


@dataclass(frozen=True)
class RequestCell:
    """One released request cell that is a sum of snapshot cells."""

    year: str
    leas: tuple[str, ...]
    subgroup: str
    value: str
    metric: str
    numerator: int | None
    denominator: int | None


@dataclass
class AuditResult:
    held: bool
    findings: list[str] = field(default_factory=list)
    earlier: list[str] = field(default_factory=list)  # narrow before the candidate, too
    targets: int = 0
    lps: int = 0
    seconds: float = 0.0

    def detail(self) -> str:
        if self.held:
            shown = "; ".join(self.findings[:10])
            more = f" (and {len(self.findings) - 10} more)" if len(self.findings) > 10 else ""
            return (f"held: with everything released so far, {len(self.findings)} hidden "
                    f"count(s) narrow to fewer than {int(AUDIT_MIN_RANGE) + 1} candidate values:"
                    f" {shown}{more}")
        earlier = (f"; {len(self.earlier)} were already that narrow before this table (an "
                   f"older snapshot's exact counts): {'; '.join(self.earlier[:5])}"
                   if self.earlier else "")
        return (f"{self.targets} hidden count(s) at request-cohort edges attacked by LP "
                f"({self.lps} LPs, {self.seconds:.1f} s); this release narrows none below "
                f"{int(AUDIT_MIN_RANGE) + 1} candidate values{earlier}")


def _exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    row = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND "
                      "table_name = ?", [schema, name]).fetchone()
    return bool(row and row[0])


def snapshot_cells(con: duckdb.DuckDBPyConnection, table: str = tables.AGGREGATES, *,
                   check: bool = True) -> Cells:
    """The cells of a published table as the public sees them (``check``: the table may not
    exist yet, then there are none)."""
    if check and not _exists(con, table):
        return {}
    cells: Cells = {}
    for year, lea, g, v, metric, n, d, suppressed in con.execute(
            f"SELECT academic_year, reporting_lea, subgroup, subgroup_value, metric, numerator, "
            f"denominator, suppressed FROM {table}").fetchall():
        cells[(str(year), str(lea), str(g), str(v), str(metric))] = (
            None if suppressed else n, d)
    return cells


def request_cells(rows: Iterable[tuple[str, list[str], str, int | None, int | None]]
                  ) -> list[RequestCell]:
    """Released request rows (cohort key, LEAs, cell key, numerator, denominator) that are
    sums of snapshot cells: one year, no grade or subgroup filter, at most one grouping
    variable not ``all`` and that one a published subgroup."""
    out: list[RequestCell] = []
    for cohort_key, leas, cell_key, n, d in rows:
        cohort: dict[str, Any] = json.loads(cohort_key)
        if cohort.get("grades") or cohort.get("subgroups"):
            continue
        group_by = list(cohort.get("group_by") or [])
        key = json.loads(cell_key)
        metric, values = str(key[0]), dict(zip(group_by, key[1:], strict=False))
        year = values.pop("academic_year", None)
        if year is None or year == ALL:
            years = cohort.get("years") or []
            if len(years) != 1 or (year == ALL and "academic_year" in group_by):
                continue
            year = years[0]
        shown = [(g, v) for g, v in values.items() if v != ALL]
        if len(shown) > 1 or (shown and shown[0][0] not in SUBGROUP_DOMAINS):
            continue
        g, v = shown[0] if shown else (ALL, ALL)
        out.append(RequestCell(str(year), tuple(sorted(leas)), g, str(v), metric, n, d))
    return out


def released_request_cells(con: duckdb.DuckDBPyConnection) -> list[RequestCell]:
    if not _exists(con, RELEASES):
        return []
    return request_cells(con.execute(
        f"SELECT cohort_key, leas, cell_key, numerator, denominator FROM {RELEASES}").fetchall())


class _LP:
    """Linear constraints over unknown true counts (all >= 0); ranges by LP (HiGHS).

    Every LP's optimum is a vector of true counts the knowledge allows (a witness). A target
    that two witnesses already spread by ``enough`` has a range of at least that, so its two
    LPs are skipped: one optimum usually moves many counts at once, and the verdict (range
    under the bound or not) stays exact, because any target still narrower is solved."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, ...], int] = {}
        self.eq: list[dict[int, float]] = []
        self.ub: list[tuple[dict[int, float], float]] = []
        self.solved = 0  # LPs run
        self._witnesses: list[np.ndarray] = []
        self._problem: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    def var(self, name: tuple[str, ...]) -> int:
        return self.index.setdefault(name, len(self.index))

    def interval(self, terms: dict[int, float], lo: float, hi: float) -> None:
        self.ub.append((terms, hi))
        self.ub.append(({k: -v for k, v in terms.items()}, -lo))

    def _matrix(self, rows: list[dict[int, float]]) -> Any:
        r, c, v = [], [], []
        for i, row in enumerate(rows):
            for k, x in row.items():
                r.append(i)
                c.append(k)
                v.append(x)
        # scipy on first use: at import it cost the Dagster definitions 0.8 s of their 5
        from scipy.sparse import coo_matrix

        return coo_matrix((v, (r, c)), shape=(len(rows), len(self.index))).tocsr()

    def _constraints(self) -> dict[str, Any]:
        """The constraint matrices, built once for as long as no constraint is added."""
        shape = (len(self.index), len(self.eq), len(self.ub))
        if self._problem is None or self._problem[0] != shape:
            self._witnesses = []  # optima of other constraints prove nothing here
            self._problem = (shape, {
                "A_eq": self._matrix(self.eq) if self.eq else None,
                "b_eq": np.zeros(len(self.eq)) if self.eq else None,
                "A_ub": self._matrix([t for t, _ in self.ub]) if self.ub else None,
                "b_ub": np.array([b for _, b in self.ub]) if self.ub else None,
            })
        return self._problem[1]

    def width(self, target: int, enough: float | None = None) -> float:
        """max - min of the target; with ``enough``, possibly a lower bound >= ``enough``."""
        constraints = self._constraints()
        if enough is not None and len(self._witnesses) > 1:
            values = [w[target] for w in self._witnesses]
            if max(values) - min(values) >= enough:
                return float(max(values) - min(values))
        c = np.zeros(len(self.index))
        c[target] = 1.0
        self.solved += 2
        from scipy.optimize import linprog  # on first use (see above)

        lo = linprog(c, bounds=(0, None), method="highs", **constraints)
        hi = linprog(-c, bounds=(0, None), method="highs", **constraints)
        if lo.status != 0 or hi.status != 0:
            # Infeasible means the released values contradict the standard's own bounds:
            # a fault to look at, and not evidence that the count is safe.
            return 0.0
        self._witnesses += [lo.x, hi.x]
        return float(-hi.fun - lo.fun)


def _shown(lp: _LP, terms: dict[int, float], value: int | None, hidden_bound: bool,
           min_cell: int) -> None:
    if value is not None:
        lp.interval(terms, max(value - ROUNDING_BASE + 1, effective_min_cell(min_cell)),
                    value + ROUNDING_BASE - 1)
    elif hidden_bound:
        # hidden: the true count or its rounded value is under the threshold, so the true
        # count is at most the shown floor less one
        lp.interval(terms, 0, shown_floor(min_cell) - 1)


def audit(snapshot: Cells, requests: list[RequestCell], *, min_cell: int,
          candidate: list[RequestCell] | None = None,
          min_range: float = AUDIT_MIN_RANGE) -> AuditResult:
    """Attack ``snapshot`` plus ``requests`` (everything released) plus ``candidate`` (the
    table about to leave). With a candidate, a hidden count is held against it only when the
    candidate narrows it: one already narrow without it (a snapshot written under an older
    rule) is reported as such, and releasing the candidate tells nothing new about it."""
    started = time.perf_counter()
    result = AuditResult(held=False)
    by_frame: dict[tuple[str, str], list[RequestCell]] = defaultdict(list)
    new = set(candidate or [])
    for cell in [*requests, *(candidate or [])]:
        by_frame[(cell.year, cell.metric)].append(cell)
    for (year, metric), cells in sorted(by_frame.items()):
        if metric not in METRIC_BY_NAME:
            continue
        frame = {k: v for k, v in snapshot.items() if k[0] == year and k[4] == metric}
        if not frame:
            continue
        leas = sorted({k[1] for k in frame} - {STATE})
        edge: set[str] = set()
        for cell in cells:
            inside = set(cell.leas)
            if inside and inside != set(leas):
                edge |= inside if len(inside) <= len(leas) // 2 else set(leas) - inside
        # Targets: hidden counts of edge LEAs in the cells the requests publish (a subgroup
        # no request table shows is coupled to them only through the snapshot's own sums,
        # which the rounding protects on its own).
        shapes = {(c.subgroup, c.value) for c in cells}
        targets = [k for k, (n, d) in frame.items()
                   if k[1] in edge and (k[2], k[3]) in shapes and (n is None or d is None)]
        if not targets:
            continue
        lp = _build(frame, cells, leas, min_cell)
        before: _LP | None = None
        for key in targets:
            n, d = frame[key]
            for part, value in (("n", n), ("d", d)):
                if value is not None:
                    continue
                result.targets += 1
                width = lp.width(lp.var((part, *key[1:4])), enough=min_range - 1e-6)
                if width >= min_range - 1e-6:
                    continue
                where = (f"{'numerator' if part == 'n' else 'denominator'} of {metric} "
                         f"{year} LEA {key[1]} {key[2]}={key[3]}")
                if new and any(c in new for c in cells):
                    before = before or _build(frame, [c for c in cells if c not in new], leas,
                                              min_cell)
                    if before.width(before.var((part, *key[1:4])),
                                    enough=min_range - 1e-6) < min_range - 1e-6:
                        result.earlier.append(f"{where} (already narrow before this table)")
                        continue
                result.findings.append(f"{where} (range {width:.1f})")
        result.lps += lp.solved + (before.solved if before else 0)
    result.held = bool(result.findings)
    result.seconds = time.perf_counter() - started
    return result


def _build(frame: Cells, cells: list[RequestCell], leas: list[str], min_cell: int) -> _LP:
    lp = _LP()
    keys = {(k[1], k[2], k[3]) for k in frame}
    for lea, g, v in keys:
        lp.ub.append(({lp.var(("n", lea, g, v)): 1.0, lp.var(("d", lea, g, v)): -1.0}, 0.0))
    for part in ("n", "d"):
        for lea in [*leas, STATE]:
            for g, values in SUBGROUP_DOMAINS.items():
                if (lea, g, values[0]) not in keys or (lea, ALL, ALL) not in keys:
                    continue
                terms = {lp.var((part, lea, ALL, ALL)): -1.0}
                for v in values:
                    terms[lp.var((part, lea, g, v))] = 1.0
                lp.eq.append(terms)
        for _lea, g, v in {k for k in keys if k[0] == STATE}:
            terms = {lp.var((part, STATE, g, v)): -1.0}
            for lea in leas:
                if (lea, g, v) in keys:
                    terms[lp.var((part, lea, g, v))] = 1.0
            lp.eq.append(terms)
    for (_y, lea, g, v, _m), (n, d) in frame.items():
        _shown(lp, {lp.var(("d", lea, g, v)): 1.0}, d, True, min_cell)
        if d is not None:
            _shown(lp, {lp.var(("n", lea, g, v)): 1.0}, n, False, min_cell)
    for cell in cells:
        members = [lea for lea in cell.leas if (lea, cell.subgroup, cell.value) in keys]
        if not members or len(members) != len(cell.leas):
            continue
        for part, value in (("n", cell.numerator), ("d", cell.denominator)):
            terms = {lp.var((part, lea, cell.subgroup, cell.value)): 1.0 for lea in members}
            _shown(lp, terms, value, part == "d", min_cell)
    return lp


def audit_warehouse(con: duckdb.DuckDBPyConnection, *, min_cell: int,
                    candidate: list[RequestCell] | None = None,
                    min_range: float = AUDIT_MIN_RANGE) -> AuditResult:
    """``audit`` over what the warehouse says was released (snapshot cells, request tables),
    plus ``candidate`` (a table about to leave)."""
    return audit(snapshot_cells(con), released_request_cells(con), candidate=candidate,
                 min_cell=min_cell, min_range=min_range)
