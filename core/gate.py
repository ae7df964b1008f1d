"""The egress gate: every number derived from person-level data passes here before it leaves.

One rule, one place (docs/metrics.md, "The egress gate"). Published aggregates, request
tables, previews, the dashboard and its CSV, checker views and release reports, e-mails and
Dagster metadata all release counts through these functions, and what they return is a
:class:`GatedCount` (a count under the published standard) or a :class:`GatedBand` (a coarse
band, for previews). Neither type can be made anywhere else: its constructor takes a private
token. API response models type every count as one of them and pydantic accepts only an
instance there (never an ``int``), so a route that tries to return a raw count fails, and
``tests/core/test_egress_gate.py`` walks every route to prove no other number type leaves.

The standard (threshold + cell-key rounding, the ONS / ABS "10-5" p-table with C2C's minimum
cell size 11) is a pure function of (true count, key sum); ``analytics.disclosure`` runs the
same rule in SQL for the snapshot and a test proves both agree.

It lives in ``core`` because every layer releases numbers (analytics tables, deidentify
reports read by services, governance e-mails, API models, Dagster metadata) and libraries may
not import each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from core.errors import InternalError
from core.protection import RECORD_KEY_RANGE, ROUNDING_BASE

REASON_DENOMINATOR = "denominator_below_min"
REASON_COUNT = "count_below_min"  # numerator OR complement small: which one is not said
PUBLIC_REASONS = (REASON_DENOMINATOR, REASON_COUNT)

# Preview bands (on the cell-key rounded count, so a band edge is blurred by +-4 like the
# threshold is): a preview says how big, never how many.
BAND_EDGES = (100, 1_000, 10_000, 100_000)

_TOKEN = object()  # only this module can make gated values


def effective_min_cell(min_cell: int, base: int = ROUNDING_BASE) -> int:
    """The threshold applied: ``min_cell`` raised to the next value that is 1 mod ``base``.

    With 11 (C2C's default) the shown counts are 15, 20, ... and a shown V means a true count
    in [V - 4, V + 4] exactly as for any rounded count. One-sided intervals (10 shown as
    10..14) would let an attacker who adds several of them pin a hidden count.
    """
    return base * -(-(min_cell - 1) // base) + 1


def shown_floor(min_cell: int, base: int = ROUNDING_BASE) -> int:
    """Smallest count ever shown: the first multiple of ``base`` at or above the threshold."""
    return -(-effective_min_cell(min_cell, base) // base) * base


def rounded(count: int, key_sum: int, base: int = ROUNDING_BASE) -> int:
    """Cell-key random rounding: to a multiple of ``base``, up with probability r / base.

    ``r = count mod base`` and the coin is the cell key (``key_sum mod 4096``), so the
    rounding is unbiased, its error is at most ``base - 1``, and the same rows always give
    the same result.
    """
    cell_key = key_sum % RECORD_KEY_RANGE
    remainder = count % base
    up = cell_key * base < remainder * RECORD_KEY_RANGE
    return count - remainder + (base if up else 0)


def small(count: int, key_sum: int, min_cell: int) -> bool:
    """Under the threshold, in truth or once rounded (so 11..14 is hidden or shown by key)."""
    threshold = effective_min_cell(min_cell)
    return count < threshold or rounded(count, key_sum) < threshold


def label_key(label: str) -> int:
    """A stable cell key for a count that has no rows with record keys behind it (a row
    count of an extract, a number in a report): the same label always rounds the same way,
    so asking again cannot average the noise away."""
    return int.from_bytes(hashlib.sha256(label.encode("utf-8")).digest()[:4], "big") \
        % RECORD_KEY_RANGE


# ------------------------------------------------------------------ the gated types


class GatedCount:
    """A count as the standard releases it: a multiple of 5 at or above the shown floor, or
    hidden (``value is None``) with one public reason. Serialises as the number or null."""

    __slots__ = ("reason", "value")

    def __init__(self, value: int | None, reason: str | None, *, _token: object) -> None:
        if _token is not _TOKEN:
            raise TypeError("a GatedCount is made only by core.gate")
        self.value = value
        self.reason = reason

    @property
    def hidden(self) -> bool:
        return self.value is None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GatedCount):
            return (self.value, self.reason) == (other.value, other.reason)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.value, self.reason))

    def __repr__(self) -> str:
        return f"GatedCount({self.value!r}, {self.reason!r})"

    def __str__(self) -> str:
        return "suppressed" if self.value is None else str(self.value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        # Validation accepts only an instance: an int in a GatedCount field is an error, so a
        # route cannot hand out a count that did not pass the gate.
        return core_schema.is_instance_schema(cls, serialization=core_schema.
                                              plain_serializer_function_ser_schema(
                                                  lambda v: v.value, when_used="json"))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": ["integer", "null"], "x-egress-gate": "count",
                "description": "A count released by the egress gate: a multiple of 5, at "
                "least the shown floor, or null (suppressed)"}


class GatedBand:
    """A coarse band for a count (previews): ``label`` such as ``"100-999"``; ``low`` and
    ``high`` its bounds (``high`` None: open), both None when the count is small."""

    __slots__ = ("high", "label", "low")

    def __init__(self, low: int | None, high: int | None, label: str, *, _token: object
                 ) -> None:
        if _token is not _TOKEN:
            raise TypeError("a GatedBand is made only by core.gate")
        self.low, self.high, self.label = low, high, label

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GatedBand):
            return (self.low, self.high, self.label) == (other.low, other.high, other.label)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.low, self.high, self.label))

    def __repr__(self) -> str:
        return f"GatedBand({self.label!r})"

    def __str__(self) -> str:
        return self.label

    def as_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "label": self.label}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.is_instance_schema(cls, serialization=core_schema.
                                              plain_serializer_function_ser_schema(
                                                  lambda v: v.as_dict(), when_used="json"))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "object", "x-egress-gate": "band",
                "description": "A coarse band released by the egress gate",
                "properties": {"low": {"type": ["integer", "null"]},
                               "high": {"type": ["integer", "null"]},
                               "label": {"type": "string"}}}


@dataclass(frozen=True)
class GatedCell:
    """What may be shown of one (numerator, denominator) cell."""

    numerator: GatedCount
    denominator: GatedCount
    rate: float | None
    suppressed: bool
    suppression_reason: str | None


# ------------------------------------------------------------------ the gate


def gate_count(count: int, key_sum: int, min_cell: int, *,
               reason: str = REASON_COUNT) -> GatedCount:
    """One count under the standard: hidden when small, else cell-key rounded."""
    if count < 0:
        raise InternalError("a count below zero reached the egress gate")
    if small(count, key_sum, min_cell):
        return GatedCount(None, reason, _token=_TOKEN)
    return GatedCount(rounded(count, key_sum), None, _token=_TOKEN)


def gate_cell(n: int, n_key: int, d: int, d_key: int, min_cell: int) -> GatedCell:
    """The rule for one cell: true counts and key sums in, what may be published out.

    The complement (rows of the population without the outcome) is a cell too, with key sum
    ``d_key - n_key``: "all but 3 graduated" is as revealing as "3 graduated". A small
    numerator or complement hides numerator and rate with one reason.
    """
    if not 0 <= n <= d:
        raise InternalError("numerator outside [0, denominator]")
    hidden_d = GatedCount(None, REASON_DENOMINATOR, _token=_TOKEN)
    if small(d, d_key, min_cell):
        return GatedCell(hidden_d, hidden_d, None, True, REASON_DENOMINATOR)
    shown_d = GatedCount(rounded(d, d_key), None, _token=_TOKEN)
    if small(n, n_key, min_cell) or small(d - n, d_key - n_key, min_cell):
        return GatedCell(GatedCount(None, REASON_COUNT, _token=_TOKEN), shown_d, None, True,
                         REASON_COUNT)
    shown_n = GatedCount(rounded(n, n_key), None, _token=_TOKEN)
    assert shown_n.value is not None and shown_d.value is not None
    return GatedCell(shown_n, shown_d, round(shown_n.value / shown_d.value, 4), False, None)


def gate_band(count: int, key_sum: int, min_cell: int) -> GatedBand:
    """A coarse band for a caller-chosen cohort (previews): the count is rounded by its cell
    key first, so the same rows always land in the same band and an edge is blurred."""
    gated = gate_count(count, key_sum, min_cell)
    if gated.value is None:
        return GatedBand(None, None, f"fewer than {shown_floor(min_cell)}", _token=_TOKEN)
    low = shown_floor(min_cell)
    for edge in BAND_EDGES:
        if gated.value < edge:
            return GatedBand(low, edge - 1, f"{low:,}-{edge - 1:,}", _token=_TOKEN)
        low = edge
    return GatedBand(low, None, f"{low:,} or more", _token=_TOKEN)


def gate_published(value: int | None, min_cell: int, *, reason: str | None = None,
                   label: str = "") -> GatedCount:
    """A number that was released before (a snapshot cell, a stored request table or report)
    on its way out again. It passes as it is when it meets the standard; anything else is
    gated again here with a stable key for ``label`` (an old record written before the gate
    held an exact count), so nothing that breaks the standard leaves."""
    if value is None:
        return GatedCount(None, public_reason(reason) or REASON_COUNT, _token=_TOKEN)
    if value % ROUNDING_BASE == 0 and value >= shown_floor(min_cell):
        return GatedCount(int(value), None, _token=_TOKEN)
    return gate_count(int(value), label_key(label or str(value)), min_cell)


LEGACY_REASONS = {
    "numerator_below_min": REASON_COUNT,
    "complement_below_min": REASON_COUNT,
    "complementary": REASON_COUNT,
}


def public_reason(reason: str | None) -> str | None:
    """The reason the public may see for a stored reason (old snapshots said more)."""
    if reason is None:
        return None
    return LEGACY_REASONS.get(reason, reason if reason in PUBLIC_REASONS else REASON_COUNT)


# Report entries that are parameters or identifiers, not counts of people.
NOT_COUNTS = frozenset({"k", "min_cell", "quorum", "version", "year", "seq", "id"})


def gate_figures(figures: dict[str, Any], min_cell: int, *, label: str) -> dict[str, Any]:
    """A report's numbers (a release report, a manifest's summary): every int in the nested
    dict passes :func:`gate_published` under a stable key for its path; text, booleans and
    names pass unchanged. Used for reports stored as JSON, where a typed model would mean
    a schema per report."""
    def walk(value: Any, path: str) -> Any:
        if isinstance(value, bool) or value is None or isinstance(value, str | float):
            return value
        if isinstance(value, int):
            return gate_published(value, min_cell, label=f"{label}/{path}")
        if isinstance(value, dict):
            return {k: v if k in NOT_COUNTS else walk(v, f"{path}/{k}")
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        return value
    return {k: v if k in NOT_COUNTS else walk(v, k) for k, v in figures.items()}


def plain(value: Any) -> Any:
    """A gated structure as plain JSON values (for e-mails, Markdown, stored JSON)."""
    if isinstance(value, GatedCount):
        return value.value
    if isinstance(value, GatedBand):
        return value.label
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
