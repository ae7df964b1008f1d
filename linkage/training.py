"""Training the Splink model without crashing on small or odd data, and saying what it did.

Each run estimates the prior (deterministic rules), u (random sampling) and m (EM on three
blocking rules: the names, and the birth date with each name; ``EM_SESSIONS``). On one small
LEA's first year any of these can fail: an EM block with no pairs, or an m that EM drives
below what a float can hold (Splink then raises). A failure never ends the run. Instead:

- a training step that fails is skipped and named in the run summary (``training``);
- an EM session whose block holds fewer than ``EM_MIN_PAIRS`` pairs is not run at all
  (Splink's own guidance: a few hundred pairs at least), so its estimates cannot mislead;
- every level still without an m or u after training (never observed, or its session
  skipped) takes the **documented fixed value** from ``linkage/data/fallback_parameters.json``
  (the medians of a model trained on 50,000 generated students, see docs/linkage.md); a level
  that table does not know is made **neutral** (m = u: it moves no pair either way), since an
  untrained level is an absence of evidence, not evidence;
- a level whose m EM drives below ``M_FLOOR`` **saw no true pair**, and is treated as
  untrained (fallback or neutral, as above). At the state's size (10.6M records, a prior of
  1e-7) EM's samples of the name and birth-date blocks hold a few hundred true pairs among
  500k, and EM drove the m of every level those few did not reach towards zero: a surname
  one keystroke off weighed -148 bits, an equal city -220, a school named but not attended
  -46. Those are vetoes made of absence. At 50,000 students the smallest m EM gives is 6e-6
  (a birth date wholly different), so the floor leaves that model as it was;
- a prior that cannot be estimated (no comparisons, no deterministic match, or every pair)
  falls back to ``1 / records``: about one other record per person.

Splink's own log lines ("unable to train m value", "You have called predict(), but ...") are
captured while the model trains and predicts and summarised in the run summary, not printed.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

import duckdb
from splink import Linker, block_on
from splink.internals.exceptions import SplinkException

from core import tables

# EM needs a few hundred pairs to say anything (Splink's documentation); below this the
# session is skipped and its levels fall back.
EM_MIN_PAIRS = 300
# EM's sessions, by the stage that times them. A level takes the median of the m values the
# sessions that can see it estimate (Splink's rule), so a level seen by three sessions keeps
# its value when one of them goes wrong. The birth date is paired with a name, not used alone:
# at the state's size a birth date is shared by ~1,500 records, so a sample of that block
# holds a true pair in ~2,000 pairs (a few hundred in EM's 500k) and EM trained every name
# level those few did not reach into a veto. With a surname or a first name beside it the
# block is a few hundred times denser at every size, as the 50k world's birth-date block is.
# The name each block holds is trained in the other one. Splink leaves out of a session
# every comparison that reads a column of its block, and the surname's swap level reads the
# first name, so the second block reads the first name under a column of its own.
EM_FIRST_NAME = "first_name_em"
EM_SESSIONS: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    ("train_em_names", (("first_name", "last_name"),)),
    ("train_em_dob", (("last_name", "dob"), (EM_FIRST_NAME, "dob"))),
)
# A world too small for the dense blocks (a small LEA's first year) trains on the birth date
# alone, as before: there the block is not sparse.
EM_SPARSE_FALLBACK: tuple[str, ...] = ("dob",)
# Below this an EM-trained m says EM saw no true pair at the level, not that true pairs never
# land there (module docstring): one in a million.
M_FLOOR = 1e-6
FALLBACK_FILE = "fallback_parameters.json"
# Training steps fail on odd data in these ways (Splink's own errors, an m or u below 1e-300,
# a division by zero pairs); anything else is a defect and propagates.
_TRAINING_ERRORS = (SplinkException, ValueError, ZeroDivisionError, ArithmeticError)


@dataclass
class TrainingReport:
    """What training did, for the run summary (no identifiers: parameters and level names)."""

    prior: float = 0.0
    prior_source: str = "estimated"  # or "fallback"
    steps_failed: list[str] = field(default_factory=list)
    sessions_skipped: list[str] = field(default_factory=list)
    fallback_levels: list[str] = field(default_factory=list)  # "comparison / level: m, u"
    # levels whose EM m fell under M_FLOOR (then filled as untrained): "comparison / level: m"
    collapsed_levels: list[str] = field(default_factory=list)
    # each EM session run: "block: pairs, trains comparison, ..." (what it could estimate)
    em_sessions: list[str] = field(default_factory=list)
    neutral_levels: list[str] = field(default_factory=list)
    splink_messages: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """Short human lines for the CLI's run summary."""
        out = []
        if self.prior_source != "estimated":
            out.append(f"prior: fixed fallback {self.prior:.3g} (could not be estimated)")
        out += [f"training step failed: {s}" for s in self.steps_failed]
        out += [f"EM on {s}" for s in self.em_sessions]
        out += [f"EM session skipped: {s}" for s in self.sessions_skipped]
        if self.collapsed_levels:
            out.append(f"{len(self.collapsed_levels)} level(s) EM drove under m {M_FLOOR:g} "
                       "(no true pair seen), filled as untrained: "
                       + "; ".join(self.collapsed_levels[:6])
                       + (" ..." if len(self.collapsed_levels) > 6 else ""))
        if self.fallback_levels:
            out.append(f"{len(self.fallback_levels)} level(s) use documented fixed values: "
                       + "; ".join(self.fallback_levels[:6])
                       + (" ..." if len(self.fallback_levels) > 6 else ""))
        if self.neutral_levels:
            out.append(f"{len(self.neutral_levels)} level(s) untrained and neutral: "
                       + "; ".join(self.neutral_levels[:6]))
        out += [f"splink said ({n}x): {m}" for m, n in sorted(self.splink_messages.items())]
        return out


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[summarise_message(record.getMessage())] += 1


def summarise_message(text: str) -> str:
    """One line per kind of Splink message: level names kept, the advice dropped."""
    lines = [x.strip() for x in text.strip().splitlines() if x.strip()]
    lines = [x for x in lines if x not in ("WARNING:", "-- WARNING --")]
    if not lines:
        return "(empty)"
    head = lines[0]
    if head.startswith("WARNING: "):
        head = head[len("WARNING: "):]
    if ", unable to train" in head:
        return head.replace(", unable to train", ": unable to train")
    if head.startswith("You have called predict()"):
        return "predict() called with untrained parameters (defaults used)"
    return head[:200]


@contextmanager
def captured_splink_messages(report: TrainingReport) -> Iterator[None]:
    """Route Splink's log records (and Python warnings) into ``report`` instead of stderr."""
    logger = logging.getLogger("splink")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    collect = _Collect()
    for handler in saved[0]:
        logger.removeHandler(handler)
    logger.addHandler(collect)  # with a handler present, Splink adds no stderr handler
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            collect.messages[summarise_message(str(w.message))] += 1
    finally:
        logger.removeHandler(collect)
        for handler in saved[0]:
            logger.addHandler(handler)
        logger.propagate = saved[1]
        logger.setLevel(saved[2])
        for message, count in collect.messages.items():
            report.splink_messages[message] = report.splink_messages.get(message, 0) + count


def _fallback_table() -> dict[str, dict[str, dict[str, float]]]:
    text = resources.files("linkage").joinpath("data", FALLBACK_FILE).read_text("utf-8")
    table: dict[str, dict[str, dict[str, float]]] = json.loads(text)["comparisons"]
    return table


def _block_pairs(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...]) -> int:
    # counted on the identities table, where the EM-only copy is the first name itself
    columns = tuple("first_name" if c == EM_FIRST_NAME else c for c in columns)
    not_null = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    row = con.execute(
        f"SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) AS n FROM "
        f"{tables.IDENTITIES} WHERE {not_null} GROUP BY {', '.join(columns)})").fetchone()
    return int(row[0]) if row else 0


def _failed(report: TrainingReport, name: str, exc: Exception) -> None:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    report.steps_failed.append(f"{name}: {type(exc).__name__}: {first[:160]}")


def _step(report: TrainingReport, name: str, fn: Any, *args: Any, **kwargs: Any) -> bool:
    try:
        fn(*args, **kwargs)
        return True
    except _TRAINING_ERRORS as exc:
        _failed(report, name, exc)
        return False


def train(
    linker: Linker,
    con: duckdb.DuckDBPyConnection,
    report: TrainingReport,
    *,
    records: int,
    u_max_pairs: int,
    em_max_pairs: int,
    seed: int,
    lap: Any = None,
) -> TrainingReport:
    """Prior, u, m (EM) with fallbacks, recorded in ``report``. ``lap(name)`` times stages."""
    settings = linker._settings_obj
    training = linker.training
    ok = _step(report, "prior from deterministic rules",
               training.estimate_probability_two_random_records_match,
               [block_on("ssid"), block_on("first_name", "last_name", "dob")], recall=0.9)
    prior = float(settings._probability_two_random_records_match)
    if not ok or not 0.0 < prior < 1.0:
        prior = min(0.5, 1.0 / max(records, 2))
        settings._probability_two_random_records_match = prior
        report.prior_source = "fallback"
    report.prior = prior
    # Every sampled pair counts towards u: Splink's default stops a comparison early once
    # each level has 100 hits, but its chunks are cut by the SQL engine's hash() of the id,
    # which differs between DuckDB and Spark, so the early stop saw different pairs on each
    # (gender u 0.561 vs 0.448 on the 150-student fixture, probabilities 0.06 apart). One
    # chunk also spares Spark ~100 small jobs; 500k pairs per comparison fit in memory.
    _step(report, "u by random sampling", training.estimate_u_using_random_sampling,
          max_pairs=u_max_pairs, seed=seed, min_count_per_level=None, num_chunks=1)
    if lap:
        lap("train_u")
    # EM cannot train a comparison used in its own blocking rule: the sessions between them
    # cover every comparison.
    # Term frequencies are left out of the EM iterations (much faster; they still apply when
    # scoring); the prior is held fixed (left free, EM drifted on an adult register).
    for stage, blocks in EM_SESSIONS:
        counted = [(columns, _block_pairs(con, columns)) for columns in blocks]
        if len(blocks) > 1 and any(pairs < EM_MIN_PAIRS for _, pairs in counted):
            counted = [(EM_SPARSE_FALLBACK, _block_pairs(con, EM_SPARSE_FALLBACK))]
        for columns, pairs in counted:
            _em_session(training, report, columns, pairs, em_max_pairs)
        if lap:
            lap(stage)
    fill_untrained(linker, report)
    return report


def _em_session(training: Any, report: TrainingReport, columns: tuple[str, ...], pairs: int,
                em_max_pairs: int) -> None:
    name = ", ".join(columns)
    if pairs < EM_MIN_PAIRS:
        report.sessions_skipped.append(f"EM on {name}: {pairs} pairs (< {EM_MIN_PAIRS})")
        return
    try:
        session = training.estimate_parameters_using_expectation_maximisation(
            block_on(*columns), max_pairs=em_max_pairs, estimate_without_term_frequencies=True,
            fix_probability_two_random_records_match=True)
    except _TRAINING_ERRORS as exc:
        _failed(report, f"EM on {name}", exc)
        return
    # Splink keeps in the session only the comparisons that read no column of the block
    trains = [c.output_column_name for c in session.core_model_settings.comparisons]
    report.em_sessions.append(f"{name}: {pairs} pairs, trains {', '.join(trains)}")


def fill_untrained(linker: Linker, report: TrainingReport) -> None:
    """Give every level without a trained (or fixed) m or u, or whose EM m collapsed under
    ``M_FLOOR``, its documented fallback value, or make it neutral when the table has none."""
    table = _fallback_table()
    for comparison in linker._settings_obj.comparisons:
        known = table.get(comparison.output_column_name, {})
        for level in comparison._comparison_levels_excluding_null:
            label = level.label_for_charts
            where = f"{comparison.output_column_name} / {label}"
            fixed = known.get(label)
            collapsed = (level._m_is_trained and not level._fix_m_probability
                         and level.m_probability is not None and level.m_probability < M_FLOOR)
            if collapsed:
                report.collapsed_levels.append(f"{where}: {level.m_probability:.2g}")
            need_m = (collapsed or not level._m_is_trained) and not level._fix_m_probability
            need_u = not level._u_is_trained and not level._fix_u_probability
            if not (need_m or need_u):
                continue
            if fixed is not None:
                if need_m:
                    level.m_probability = fixed["m"]
                if need_u:
                    level.u_probability = fixed["u"]
                report.fallback_levels.append(
                    where + ": " + ", ".join(f"{k} {fixed[k]:.3g}" for k, need in
                                            (("m", need_m), ("u", need_u)) if need))
                continue
            # neutral: m = u, using whichever side was trained, else a small shared value
            value = (level.u_probability if not need_u else
                     level.m_probability if not need_m else 0.01)
            if need_m:
                level.m_probability = value
            if need_u:
                level.u_probability = value
            report.neutral_levels.append(where)


def parameters_table(linker: Linker) -> dict[str, dict[str, dict[str, float]]]:
    """The trained m and u per comparison and level label (to refresh the fallback file)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for comparison in linker._settings_obj.comparisons:
        levels = out.setdefault(comparison.output_column_name, {})
        for level in comparison._comparison_levels_excluding_null:
            m, u = level.m_probability, level.u_probability
            if m is not None and u is not None:
                levels[level.label_for_charts] = {"m": float(f"{m:.3g}"), "u": float(f"{u:.3g}")}
    return out
