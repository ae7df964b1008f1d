"""Disclosure control for published aggregates: the one place the suppression rule lives.

Rule (docs/metrics.md, "Disclosure control"):

1. Primary suppression. A cell's denominator under ``min_cell`` hides the whole cell. A
   numerator under ``min_cell``, or a complement (denominator - numerator) under ``min_cell``,
   hides the numerator and the rate (the complement would reveal how many did NOT reach the
   outcome, just as sensitive). Zeros count as small.
2. Complementary suppression. Published cells are linked by exact sums: every subgroup's
   values add up to the ``all`` cell of the same LEA, and the LEAs add up to ``STATE``.
   Denominators are shared by every metric with the same population, so they are protected
   once per population and hidden alike in every metric. Each metric's table is then
   protected as numerators, complements and denominators jointly (``protect_rates``): more
   cells are hidden until an attacker who knows every published value, every sum and that
   counts lie in ``[0, denominator]`` cannot pin any hidden numerator, complement or
   denominator to a range narrower than 1 (checked with linear programming, not assumed from
   a pattern rule).
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
from core.protection import MIN_CELL

Key = Any  # a hashable cell key, e.g. (reporting_lea, subgroup, subgroup_value)
MIN_RANGE = 1.0  # a hidden count must have at least this much room between its LP bounds
_EPS = 1e-6
_SMALL_COMPONENT = 12  # below this, per-cell LPs are cheaper than vertex certificates
_RANDOM_VERTICES = 4  # random-direction vertices tried first in larger components
_PUSH_MIN_GAIN = 0.05  # keep pushing while a round clears this share of the open keys

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
    min_range: float = MIN_RANGE,
) -> set[Key]:
    """Hidden keys an attacker can pin to a range narrower than ``min_range``.

    The attacker knows every value not in ``hidden``, every relation and that counts are
    >= 0 (upper bounds such as numerator <= denominator are relations too: see
    ``rate_relations``). ``values`` of hidden keys may be None (auditing a published table);
    when present they only speed up the check.
    """
    unknown = set(hidden)
    exposed: set[Key] = set()
    touching = [r for r in relations if any(m in unknown for m in r.members)]
    for component in _components(unknown, touching):
        lp = _ComponentLP(component, values, touching)
        exposed.update(lp.pinned(min_range))
    return exposed


class _ComponentLP:
    """The attacker's feasible set for one connected group of hidden keys."""

    def __init__(
        self, component: list[Key], values: Mapping[Key, int | None],
        relations: Sequence[Relation],
    ) -> None:
        self.component = component
        index = {k: i for i, k in enumerate(component)}
        rows: list[list[float]] = []
        rhs: list[float] = []
        for rel in relations:
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
        self.a_eq = np.array(rows) if rows else None
        self.b_eq = np.array(rhs) if rows else None
        # lo / hi: the smallest and largest value of each key seen at a feasible point so far
        self.lo = np.full(len(component), np.inf)
        self.hi = np.full(len(component), -np.inf)
        for i, k in enumerate(component):
            v = values.get(k)
            if v is not None:  # the truth is a feasible point too
                self.lo[i] = self.hi[i] = float(v)

    def solve(self, objective: np.ndarray) -> np.ndarray | None:
        """Minimise ``objective``; the vertex found also widens lo / hi. None if unbounded."""
        result = linprog(objective, A_eq=self.a_eq, b_eq=self.b_eq,
                         bounds=[(0.0, None)] * len(self.component), method="highs")
        if result.status == 3:
            return None
        if result.status != 0:
            raise InternalError(f"disclosure audit LP failed ({result.message})")
        point = np.asarray(result.x)
        np.minimum(self.lo, point, out=self.lo)
        np.maximum(self.hi, point, out=self.hi)
        return point

    def open_cells(self, min_range: float) -> np.ndarray:
        return np.flatnonzero(self.hi - self.lo < min_range - _EPS)

    def pinned(self, min_range: float) -> list[Key]:
        """Keys whose feasible range is narrower than ``min_range``.

        A key whose value differs by >= min_range between two feasible points cannot be
        pinned, so cheap certificates come first: a few random vertices, then vertices that
        push every still-open key up (and down) together. Exact per-key min / max LPs only for
        what is left; each of those points clears other keys too.
        """
        size = len(self.component)
        rng = np.random.default_rng(size)
        if size > _SMALL_COMPONENT:
            for _ in range(_RANDOM_VERTICES):
                self.solve(rng.choice([-1.0, 1.0], size))
            still_open = self.open_cells(min_range)
            while len(still_open):
                before = len(still_open)
                for sign in (-1.0, 1.0):
                    objective = np.zeros(size)
                    objective[still_open] = sign * rng.uniform(0.5, 1.5, before)
                    self.solve(objective)
                still_open = self.open_cells(min_range)
                if before - len(still_open) < max(1.0, before * _PUSH_MIN_GAIN):
                    break  # little gain: go per key
        pinned: list[Key] = []
        for i in self.open_cells(min_range):
            if self.hi[i] - self.lo[i] >= min_range - _EPS:  # cleared by an earlier LP
                continue
            objective = np.zeros(size)
            objective[i] = -1.0
            if self.solve(objective) is None or self.hi[i] - self.lo[i] >= min_range - _EPS:
                continue
            objective[i] = 1.0
            self.solve(objective)
            if self.hi[i] - self.lo[i] < min_range - _EPS:
                pinned.append(self.component[i])
        return pinned


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
    known: Collection[Key] = (),
    fixed: Collection[Key] = (),
    linked: Mapping[Key, Collection[Key]] | None = None,
) -> set[Key]:
    """Primary plus complementary suppression: the set of keys to hide.

    ``known`` keys are assumed public elsewhere (never counted as protection and never hidden).
    ``fixed`` keys were decided elsewhere (denominators shared by every metric of a
    population): hidden when in ``primary``, never chosen here. ``linked`` keys are hidden
    together (hiding a numerator hides its complement: see ``protect_rates``).
    Complements are chosen among published cells of the relations around an exposed cell,
    smallest value first, non-totals before totals (totals are what users need most).
    """
    for rel in relations:
        if values[rel.total] != sum(values[p] for p in rel.parts):
            raise InternalError(f"cells are not additive at {rel.total!r}")
    known_set = set(known)
    fixed_set = set(fixed)
    linked = linked or {}
    hidden: set[Key] = set()

    def hide(k: Key) -> None:
        hidden.add(k)
        hidden.update(linked.get(k, ()))

    for k in set(primary) - known_set:
        hide(k)
    totals = {r.total for r in relations}
    by_member: dict[Key, list[Relation]] = defaultdict(list)
    for rel in relations:
        for m in rel.members:
            by_member[m].append(rel)
    order = _preference(values, totals)

    def candidates(rels: Iterable[Relation]) -> list[Key]:
        found = {
            m for r in rels for m in r.members
            if m not in hidden and m not in known_set and m not in fixed_set
        }
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
                    hide(options[0])
                    changed = True
        exposed = exposed_cells(values, relations, hidden)
        if not exposed:
            return hidden
        added = False
        for k in sorted(exposed, key=repr):
            frontier = list(by_member[k])
            seen: set[Relation] = set()
            while frontier:
                options = candidates(frontier)
                if options:
                    hide(options[0])
                    added = True
                    break
                seen.update(frontier)
                frontier = [
                    r for rel in frontier for m in rel.members for r in by_member[m]
                    if r not in seen
                ]
        if not added:  # everything around the exposed cells is hidden already
            raise InternalError(f"cannot protect suppressed cells {sorted(exposed, key=repr)}")


# ------------------------------------------------------------------ rate tables


NUMERATOR = "numerator"
COMPLEMENT = "complement"  # denominator - numerator: "all but 3 graduated" is a count too
DENOMINATOR = "denominator"


def rate_relations(keys: Collection[Key], relations: Sequence[Relation]) -> list[Relation]:
    """The relations of one rate table (one metric) as an attacker sees them.

    Numerators, complements and denominators each obey the table's sums, and every cell has
    ``denominator = numerator + complement``. With all three >= 0 this also says
    ``numerator <= denominator``. Keys become ``(part, key)``. Auditing numerators and
    denominators in separate tables misses what they reveal together: two hidden cells whose
    hidden numerators and hidden denominators have the same known sum both have complement 0.
    """
    out = [
        Relation((part, rel.total), tuple((part, p) for p in rel.parts))
        for part in (NUMERATOR, COMPLEMENT, DENOMINATOR)
        for rel in relations
    ]
    out.extend(Relation((DENOMINATOR, k), ((NUMERATOR, k), (COMPLEMENT, k))) for k in keys)
    return out


def rate_values(
    numerators: Mapping[Key, int | None], denominators: Mapping[Key, int | None]
) -> dict[Key, int | None]:
    """``(part, key)`` values for ``rate_relations``; a complement is unknown if either is."""
    values: dict[Key, int | None] = {}
    for k, n in numerators.items():
        d = denominators[k]
        values[(NUMERATOR, k)] = n
        values[(DENOMINATOR, k)] = d
        values[(COMPLEMENT, k)] = None if n is None or d is None else d - n
    return values


def protect_rates(
    numerators: Mapping[Key, int],
    denominators: Mapping[Key, int],
    relations: Sequence[Relation],
    hidden_denominators: Collection[Key],
    min_cell: int,
) -> set[Key]:
    """Keys whose numerator (and rate) must be hidden in one metric's table.

    ``hidden_denominators`` were protected once for the metric's population (they are shared
    with its other metrics) and are not changed here; their numerators are hidden too.
    Primary: numerator or complement under ``min_cell``. Complementary suppression and the
    audit run on numerators, complements and denominators jointly (``rate_relations``).
    """
    primary = {
        k for k, n in numerators.items()
        if k in hidden_denominators or n < min_cell or denominators[k] - n < min_cell
    }
    values = {k: v for k, v in rate_values(numerators, denominators).items() if v is not None}
    linked: dict[Key, tuple[Key, ...]] = {}
    for k in numerators:
        linked[(NUMERATOR, k)] = ((COMPLEMENT, k),)
        linked[(COMPLEMENT, k)] = ((NUMERATOR, k),)
    hidden = protect(
        values,
        rate_relations(numerators.keys(), relations),
        {(NUMERATOR, k) for k in primary} | {(DENOMINATOR, k) for k in hidden_denominators},
        fixed={(DENOMINATOR, k) for k in numerators},
        linked=linked,
    )
    return {k for part, k in hidden if part == NUMERATOR}


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


@dataclass(frozen=True)
class Shown:
    """What one cell of a rate table publishes after suppression (None = hidden)."""

    numerator: int | None
    denominator: int | None
    rate: float | None
    suppressed: bool
    reason: str | None


def suppress_rate_tables(
    denominators: Mapping[str, Mapping[Key, int]],
    numerators: Mapping[str, tuple[str, Mapping[Key, int]]],
    relations_for: Callable[[Collection[Key]], Sequence[Relation]],
    min_cell: int,
) -> dict[str, dict[Key, Shown]]:
    """The suppression routine (module docstring) for a family of rate tables.

    ``denominators``: true counts per population; ``numerators``: per metric, its population
    and true counts. ``relations_for(keys)`` gives the sum relations among a table's keys.
    Denominators are protected once per population (shared by its metrics), then each
    metric's numerators jointly with complements and denominators. Returns, per metric and
    key, what is published. Used by ``suppress`` (the serving snapshot) and by
    ``analytics.requests`` (request tables), so both follow one rule.
    """
    hidden_d: dict[str, set[Key]] = {}
    for population, d_values in denominators.items():
        primary = {k for k, v in d_values.items() if v < min_cell}
        hidden_d[population] = protect(d_values, relations_for(d_values.keys()), primary)
    shown: dict[str, dict[Key, Shown]] = {}
    for metric, (population, n_values) in numerators.items():
        d_values = denominators[population]
        d_hidden = hidden_d[population]
        n_hidden = protect_rates(
            n_values, d_values, relations_for(n_values.keys()), d_hidden, min_cell
        )
        shown[metric] = {
            k: _shown(n, d_values[k], k in n_hidden, k in d_hidden, min_cell)
            for k, n in n_values.items()
        }
    return shown


def _shown(n: int, d: int, n_hidden: bool, d_hidden: bool, min_cell: int) -> Shown:
    if not n_hidden:
        return Shown(n, d, round(n / d, 4) if d else None, False, None)
    if d_hidden:
        reason = REASON_DENOMINATOR if d < min_cell else REASON_COMPLEMENTARY
    elif n < min_cell:
        reason = REASON_NUMERATOR
    elif d - n < min_cell:
        reason = REASON_COMPLEMENT
    else:
        reason = REASON_COMPLEMENTARY
    return Shown(None, None if d_hidden else d, None, True, reason)


def suppress(cells: Sequence[Cell], min_cell: int = MIN_CELL) -> list[Cell]:
    """Apply primary and complementary suppression to published cells (see module docstring).

    ``cells`` hold true counts for every (year, LEA incl. STATE, subgroup value incl. all,
    metric); the result has the same cells with hidden counts set to None and marked.
    """
    for c in cells:
        if c.numerator is None or c.denominator is None:
            raise InternalError("suppress() needs true counts in every cell")
        if not 0 <= c.numerator <= c.denominator:
            raise InternalError(f"numerator outside [0, denominator] in {c}")

    # denominators once per (year, population); numerators per (year, metric)
    by_year: dict[str, dict[str, dict[Key, int]]] = defaultdict(lambda: defaultdict(dict))
    for c in cells:
        table = by_year[c.academic_year][c.population_name]
        previous = table.setdefault(c.table_key, c.denominator or 0)
        if previous != c.denominator:
            raise InternalError(f"metrics of one population disagree on a denominator: {c}")
    by_table: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for c in cells:
        by_table[(c.academic_year, c.metric)].append(c)
    out: list[Cell] = []
    for year, denominators in sorted(by_year.items()):
        tables = sorted((m, cs) for (y, m), cs in by_table.items() if y == year)
        numerators = {
            metric: (cs[0].population_name, {c.table_key: c.numerator or 0 for c in cs})
            for metric, cs in tables
        }
        shown = suppress_rate_tables(denominators, numerators, table_relations, min_cell)
        for metric, cs in tables:
            for c in cs:
                s = shown[metric][c.table_key]
                out.append(replace(c, numerator=s.numerator, denominator=s.denominator,
                                   rate=s.rate, suppressed=s.suppressed,
                                   suppression_reason=s.reason))
    return out


def audit_published(
    rows: Iterable[tuple[str, str, str, str, str, int | None, int | None]],
) -> set[tuple[str, ...]]:
    """Hidden values of a published table that an attacker could pin (should be empty).

    ``rows`` are (academic_year, reporting_lea, subgroup, subgroup_value, metric, numerator,
    denominator) with None for hidden counts, exactly as in the serving snapshot. Each
    (year, metric) table is audited with its population's denominators (shown in any metric
    of the population) and complements jointly; findings are
    ``(part, year, metric, reporting_lea, subgroup, subgroup_value)``, part one of
    ``numerator``, ``complement``, ``denominator``.
    """
    d_tables: dict[tuple[str, str], dict[Key, int | None]] = defaultdict(dict)
    n_tables: dict[tuple[str, str], dict[Key, int | None]] = defaultdict(dict)
    population_of: dict[str, str] = {}
    for year, lea, subgroup, value, metric, n, d in rows:
        cell = Cell(year, lea, subgroup, value, metric, n, d)
        population_of[metric] = cell.population_name
        d_table = d_tables[(year, cell.population_name)]
        if d_table.get(cell.table_key) is None:
            d_table[cell.table_key] = d
        n_tables[(year, metric)][cell.table_key] = n
    exposed: set[tuple[str, ...]] = set()
    for (year, metric), n_table in n_tables.items():
        values = rate_values(n_table, d_tables[(year, population_of[metric])])
        hidden = {k for k, v in values.items() if v is None}
        relations = rate_relations(n_table.keys(), table_relations(n_table.keys()))
        for part, k in exposed_cells(values, relations, hidden):
            exposed.add((part, year, metric, *k))
    return exposed
