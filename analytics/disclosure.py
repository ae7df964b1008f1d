"""Disclosure control for published aggregates: the one place the suppression rule lives.

Rule (docs/metrics.md, "Disclosure control"):

1. Primary suppression. A cell's denominator under ``min_cell`` hides the whole cell. A
   numerator under ``min_cell``, or a complement (denominator - numerator) under ``min_cell``,
   hides the numerator and the rate (the complement would reveal how many did NOT reach the
   outcome, just as sensitive). Zeros count as small.
2. Complementary suppression. Published cells are linked by exact sums: every subgroup's
   values add up to the ``all`` cell of the same LEA, and the LEAs add up to ``STATE``.
   Denominators are shared by every metric with the same population, so they are protected
   once per population and hidden alike in every metric. After primary suppression, more
   cells are hidden until an attacker who knows every published value, every sum and that
   counts lie in ``[0, denominator]`` cannot pin any hidden value to a range narrower than 1
   (checked with linear programming, not assumed from a pattern rule).
3. Suppression is marked (``suppressed``, ``suppression_reason``); a hidden count is NULL,
   never zero.

The engine (``protect``) is generic over keys and sum relations, so request tables with other
groupings (``analytics.requests``) use the same rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.optimize import linprog

from analytics.metrics import ALL, METRIC_BY_NAME, STATE
from core.errors import InternalError

Key = Any  # a hashable cell key, e.g. (reporting_lea, subgroup, subgroup_value)
MIN_RANGE = 1.0  # a hidden count must have at least this much room between its LP bounds
_EPS = 1e-6
_SMALL_COMPONENT = 12  # below this, per-cell LPs are cheaper than vertex certificates

REASON_DENOMINATOR = "denominator_below_min"
REASON_NUMERATOR = "numerator_below_min"
REASON_COMPLEMENT = "complement_below_min"
REASON_COMPLEMENTARY = "complementary"


@dataclass(frozen=True)
class Relation:
    """``total`` equals the sum of ``parts`` (exactly, in the true data)."""

    total: Key
    parts: tuple[Key, ...]

    @property
    def members(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class Cell:
    academic_year: str
    reporting_lea: str
    subgroup: str
    subgroup_value: str
    metric: str
    numerator: int | None
    denominator: int | None
    rate: float | None = None
    suppressed: bool = False
    suppression_reason: str | None = None
    population: str | None = None  # metrics with the same population share denominators

    @property
    def table_key(self) -> tuple[str, str, str]:
        return (self.reporting_lea, self.subgroup, self.subgroup_value)

    @property
    def population_name(self) -> str:
        if self.population:
            return self.population
        metric = METRIC_BY_NAME.get(self.metric)
        return metric.population if metric else f"metric:{self.metric}"


# --------------------------------------------------------------------------- engine


def _components(unknown: set[Key], relations: Sequence[Relation]) -> list[list[Key]]:
    parent: dict[Key, Key] = {k: k for k in unknown}

    def find(k: Key) -> Key:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for rel in relations:
        members = [m for m in rel.members if m in unknown]
        for other in members[1:]:
            parent[find(other)] = find(members[0])
    groups: dict[Key, list[Key]] = defaultdict(list)
    for k in unknown:
        groups[find(k)].append(k)
    return [sorted(g, key=repr) for g in groups.values()]


def exposed_cells(
    values: Mapping[Key, int | None],
    relations: Sequence[Relation],
    hidden: Collection[Key],
    *,
    upper: Mapping[Key, int] | None = None,
    min_range: float = MIN_RANGE,
) -> set[Key]:
    """Hidden keys an attacker can pin to a range narrower than ``min_range``.

    The attacker knows every value not in ``hidden``, every relation, that counts are >= 0
    and at most ``upper`` where given. ``values`` of hidden keys may be None (auditing a
    published table); when present they only speed up the check.
    """
    unknown = set(hidden)
    upper = upper or {}
    exposed: set[Key] = set()
    touching = [r for r in relations if any(m in unknown for m in r.members)]
    for component in _components(unknown, touching):
        index = {k: i for i, k in enumerate(component)}
        rows: list[list[float]] = []
        rhs: list[float] = []
        for rel in touching:
            if not any(m in index for m in rel.members):
                continue
            row = [0.0] * len(component)
            constant = 0.0
            for m, coef in [(rel.total, -1.0)] + [(p, 1.0) for p in rel.parts]:
                if m in index:
                    row[index[m]] += coef
                else:
                    known = values.get(m)
                    if known is None:
                        raise InternalError(f"relation member {m!r} is neither known nor hidden")
                    constant += coef * known
            rows.append(row)
            rhs.append(-constant)
        a_eq = np.array(rows) if rows else None
        b_eq = np.array(rhs) if rows else None
        bounds = [(0.0, float(upper[k]) if k in upper else None) for k in component]

        def solve(
            objective: np.ndarray,
            a_eq: np.ndarray | None = a_eq,
            b_eq: np.ndarray | None = b_eq,
            bounds: list[tuple[float, float | None]] = bounds,
        ) -> np.ndarray | None:
            """A vertex optimising ``objective``; None when unbounded in that direction."""
            result = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            if result.status == 3:
                return None
            if result.status != 0:
                raise InternalError(f"disclosure audit LP failed ({result.message})")
            return np.asarray(result.x)

        # Cheap certificates first: a few vertices of the feasible set. A cell whose value
        # differs by >= min_range between two feasible points (the truth counts as one) cannot
        # be pinned. Per-cell LPs only for what is left.
        size = len(component)
        lo = np.full(size, np.inf)
        hi = np.full(size, -np.inf)
        truth = [values.get(k) for k in component]
        for i, v in enumerate(truth):
            if v is not None:
                lo[i] = hi[i] = float(v)
        rng = np.random.default_rng(size)
        objectives = [] if size <= _SMALL_COMPONENT else [
            rng.choice([-1.0, 1.0], size) for _ in range(4)
        ]
        for objective in objectives:
            point = solve(objective)
            if point is not None:
                lo = np.minimum(lo, point)
                hi = np.maximum(hi, point)
        for i, k in enumerate(component):
            if hi[i] - lo[i] >= min_range - _EPS:
                continue
            objective = np.zeros(size)
            objective[i] = -1.0
            top = solve(objective)
            if top is None or (truth[i] is not None and top[i] - lo[i] >= min_range - _EPS):
                continue
            objective[i] = 1.0
            bottom = solve(objective)
            assert bottom is not None  # bounded below by 0
            if top[i] - bottom[i] < min_range - _EPS:
                exposed.add(k)
    return exposed


def _preference(
    values: Mapping[Key, int | None], totals: set[Key]
) -> Callable[[Key], tuple[bool, int, str]]:
    def key(k: Key) -> tuple[bool, int, str]:
        return (k in totals, values.get(k) or 0, repr(k))

    return key


def protect(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    primary: Iterable[Key],
    *,
    upper: Mapping[Key, int] | None = None,
    known: Collection[Key] = (),
) -> set[Key]:
    """Primary plus complementary suppression: the set of keys to hide.

    ``known`` keys are assumed public elsewhere (never counted as protection and never hidden).
    Complements are chosen among published cells of the relations around an exposed cell,
    smallest value first, non-totals before totals (totals are what users need most).
    """
    for rel in relations:
        if values[rel.total] != sum(values[p] for p in rel.parts):
            raise InternalError(f"cells are not additive at {rel.total!r}")
    known_set = set(known)
    hidden = set(primary) - known_set
    totals = {r.total for r in relations}
    by_member: dict[Key, list[Relation]] = defaultdict(list)
    for rel in relations:
        for m in rel.members:
            by_member[m].append(rel)
    order = _preference(values, totals)

    def candidates(rels: Iterable[Relation]) -> list[Key]:
        found = {m for r in rels for m in r.members if m not in hidden and m not in known_set}
        return sorted(found, key=order)

    while True:
        # cheap pass: a relation with exactly one hidden member gives it away
        changed = True
        while changed:
            changed = False
            for rel in relations:
                hidden_parts = [p for p in rel.parts if p in hidden]
                if sum(1 for m in rel.members if m in hidden) == 1:
                    options = candidates([rel])
                elif hidden_parts and rel.total not in hidden \
                        and sum(values[p] for p in hidden_parts) == 0:
                    # hidden parts that add up to a known zero are all known to be zero
                    options = [p for p in candidates([rel]) if values[p] > 0]
                else:
                    continue
                if options:
                    hidden.add(options[0])
                    changed = True
        exposed = exposed_cells(values, relations, hidden, upper=upper)
        if not exposed:
            return hidden
        added = False
        for k in sorted(exposed, key=repr):
            frontier = list(by_member[k])
            seen: set[Relation] = set()
            while frontier:
                options = candidates(frontier)
                if options:
                    hidden.add(options[0])
                    added = True
                    break
                seen.update(frontier)
                frontier = [
                    r for rel in frontier for m in rel.members for r in by_member[m]
                    if r not in seen
                ]
        if not added:  # everything around the exposed cells is hidden already
            raise InternalError(f"cannot protect suppressed cells {sorted(exposed, key=repr)}")


# ---------------------------------------------------------------- published tables


def table_relations(keys: Collection[tuple[str, str, str]]) -> list[Relation]:
    """Sum relations among (reporting_lea, subgroup, subgroup_value) keys of one table."""
    present = set(keys)
    leas = sorted({k[0] for k in present} - {STATE})
    values_of: dict[str, list[str]] = defaultdict(list)
    for _, subgroup, value in sorted(present):
        if subgroup != ALL and value not in values_of[subgroup]:
            values_of[subgroup].append(value)
    relations: list[Relation] = []
    for lea in [*leas, STATE]:
        total = (lea, ALL, ALL)
        if total not in present:
            continue
        for subgroup, values in values_of.items():
            parts = tuple((lea, subgroup, v) for v in values if (lea, subgroup, v) in present)
            if parts:
                relations.append(Relation(total, parts))
    for _, subgroup, value in sorted(k for k in present if k[0] == STATE):
        parts = tuple((lea, subgroup, value) for lea in leas if (lea, subgroup, value) in present)
        if parts:
            relations.append(Relation((STATE, subgroup, value), parts))
    return relations


def suppress(cells: Sequence[Cell], min_cell: int = 11) -> list[Cell]:
    """Apply primary and complementary suppression to published cells (see module docstring).

    ``cells`` hold true counts for every (year, LEA incl. STATE, subgroup value incl. all,
    metric); the result has the same cells with hidden counts set to None and marked.
    """
    for c in cells:
        if c.numerator is None or c.denominator is None:
            raise InternalError("suppress() needs true counts in every cell")
        if not 0 <= c.numerator <= c.denominator:
            raise InternalError(f"numerator outside [0, denominator] in {c}")

    # 1. denominators, once per (year, population)
    denominators: dict[tuple[str, str], dict[Key, int]] = defaultdict(dict)
    for c in cells:
        table = denominators[(c.academic_year, c.population_name)]
        previous = table.setdefault(c.table_key, c.denominator or 0)
        if previous != c.denominator:
            raise InternalError(f"metrics of one population disagree on a denominator: {c}")
    hidden_d: dict[tuple[str, str], set[Key]] = {}
    for name, d_values in denominators.items():
        primary = {k for k, v in d_values.items() if v < min_cell}
        hidden_d[name] = protect(d_values, table_relations(d_values.keys()), primary)

    # 2. numerators, per (year, metric), bounded by published denominators
    by_table: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for c in cells:
        by_table[(c.academic_year, c.metric)].append(c)
    out: list[Cell] = []
    for (year, _metric), table_cells in sorted(by_table.items()):
        population = table_cells[0].population_name
        d_hidden = hidden_d[(year, population)]
        n_values: dict[Key, int] = {c.table_key: c.numerator or 0 for c in table_cells}
        primary = {
            c.table_key for c in table_cells
            if c.table_key in d_hidden
            or (c.numerator or 0) < min_cell
            or (c.denominator or 0) - (c.numerator or 0) < min_cell
        }
        upper = {c.table_key: c.denominator or 0 for c in table_cells
                 if c.table_key not in d_hidden}
        n_hidden = protect(
            n_values, table_relations(n_values.keys()), primary, upper=upper
        )
        for c in table_cells:
            out.append(_mark(c, c.table_key in n_hidden, c.table_key in d_hidden, min_cell))
    return out


def _mark(c: Cell, n_hidden: bool, d_hidden: bool, min_cell: int) -> Cell:
    n, d = c.numerator or 0, c.denominator or 0
    if not n_hidden:
        return replace(c, rate=round(n / d, 4) if d else None, suppressed=False,
                       suppression_reason=None)
    if d_hidden:
        reason = REASON_DENOMINATOR if d < min_cell else REASON_COMPLEMENTARY
    elif n < min_cell:
        reason = REASON_NUMERATOR
    elif d - n < min_cell:
        reason = REASON_COMPLEMENT
    else:
        reason = REASON_COMPLEMENTARY
    return replace(c, numerator=None, denominator=None if d_hidden else c.denominator,
                   rate=None, suppressed=True, suppression_reason=reason)


def audit_published(
    rows: Iterable[tuple[str, str, str, str, str, int | None, int | None]],
) -> set[tuple[str, ...]]:
    """Hidden values of a published table that an attacker could pin (should be empty).

    ``rows`` are (academic_year, reporting_lea, subgroup, subgroup_value, metric, numerator,
    denominator) with None for hidden counts, exactly as in the serving snapshot.
    """
    d_tables: dict[tuple[str, str], dict[Key, int | None]] = defaultdict(dict)
    n_tables: dict[tuple[str, str], dict[Key, int | None]] = defaultdict(dict)
    upper: dict[tuple[str, str], dict[Key, int]] = defaultdict(dict)
    for year, lea, subgroup, value, metric, n, d in rows:
        cell = Cell(year, lea, subgroup, value, metric, n, d)
        key = cell.table_key
        d_table = d_tables[(year, cell.population_name)]
        if d_table.get(key) is None:
            d_table[key] = d
        n_tables[(year, metric)][key] = n
        if d is not None:
            upper[(year, metric)][key] = d
    exposed: set[tuple[str, ...]] = set()
    for (year, population), table in d_tables.items():
        hidden = {k for k, v in table.items() if v is None}
        for k in exposed_cells(table, table_relations(table.keys()), hidden):
            exposed.add(("denominator", year, population, *k))
    for (year, metric), table in n_tables.items():
        hidden = {k for k, v in table.items() if v is None}
        relations = table_relations(table.keys())
        for k in exposed_cells(table, relations, hidden, upper=upper[(year, metric)]):
            exposed.add(("numerator", year, metric, *k))
    return exposed
