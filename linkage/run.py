"""The annual link: standardise -> Splink -> constrained clustering -> stable ids -> summary."""

from __future__ import annotations

import json
import re
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from core import tables
from core.duck import StageTimer, transaction
from core.errors import Conflict, InputRejected, InternalError
from core.protection import require_link_thresholds
from core.settings import Settings
from linkage import model, quality, review
from linkage.birthdates import birth_date_conflicts
from linkage.choose_backend import open_backend
from linkage.clustering import cluster, confident_graph
from linkage.enrolment import enrolment_conflicts
from linkage.identity_extras import identity_extras
from linkage.rates import source_pair_rates, subgroup_rates
from linkage.rivals import (
    RivalsReport,
    has_rivals,
    in_band_or_above,
    scoring_floor,
    unit_strata,
    weigh_rivals,
)
from linkage.schema import ensure_schema
from linkage.stable_ids import assign_person_ids
from linkage.standardise import build_identities
from linkage.twins import twin_conflicts

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# The run's stages in order; a failed run records the first one that had not finished.
RUN_STAGES = ("standardise", "train_predict", "artefacts", "cluster", "stable_ids",
              "quality_sample", "summary")
# Candidate pairs predict scores per slice for each GB of C2C_DUCKDB_MEMORY_LIMIT when
# C2C_LINK_PREDICT_CHUNK_PAIRS is unset (measured, docs/scale.md).
PREDICT_PAIRS_PER_GB = 1_000_000
# Grouped staging rows standardise ranks per slice for each GB of the limit: the state's
# year (about 10M units) ran out of memory under 4 GB in one statement (docs/scale.md).
STANDARDISE_ROWS_PER_GB = 750_000


@dataclass
class LinkRunSummary:
    run_id: str
    records_by_source: dict[str, int]
    pairs_scored: int
    pairs_above_lower_threshold: int
    pairs_above_threshold: int
    clusters: int
    match_threshold: float
    review_lower_threshold: float
    review_queue_size: int
    review_labels_used: int
    pairs_refused_by_cannot_link: int
    match_rates: dict[str, float]
    subgroup_rates: dict[str, list[dict[str, object]]]
    blocking_rules: list[dict[str, object]]
    id_changes: dict[str, int]
    artefacts: list[str]
    seconds: float
    peak_memory_mb: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    # what training estimated, what fell back to fixed values, Splink's messages (training.py)
    training: dict[str, Any] = field(default_factory=dict)
    # the clerical quality sample drawn from this run and, once reviewed, precision and
    # recall with intervals (linkage/quality.py); refreshed by `c2c quality estimate`
    quality: dict[str, Any] = field(default_factory=dict)
    backend: str = "duckdb"  # the Splink backend that ran (C2C_LINKAGE_BACKEND)
    predict_chunks: int = 1  # slices predict scored the pairs in (linkage/model.py)
    engine: dict[str, Any] = field(default_factory=dict)  # LinkBackend.facts
    rivals: dict[str, Any] = field(default_factory=dict)  # linkage/rivals.py's RivalsReport

    @property
    def records(self) -> int:
        return sum(self.records_by_source.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _peak_memory_mb() -> float:
    # ru_maxrss is KiB on Linux; it is the process peak (includes anything run before).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_annual_link(
    con: duckdb.DuckDBPyConnection,
    *,
    settings: Settings,
    run_id: str | None = None,
    runs_dir: Path,
    on_stage: Callable[[str, float], None] | None = None,
) -> LinkRunSummary:
    """Link every identity in staging and publish the crosswalk for this run.

    ``on_stage(name, seconds)`` is called as each stage ends (progress for the CLI)."""
    started = time.perf_counter()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    run_id = run_id or "link-" + started_at.strftime("%Y%m%dT%H%M%S")
    if not RUN_ID_PATTERN.match(run_id):
        raise InputRejected(f"run id {run_id!r}: use letters, digits, '.', '_' or '-'")
    require_link_thresholds(settings.review_lower_threshold, settings.link_match_threshold)
    ensure_schema(con)
    if con.execute(f"SELECT 1 FROM {tables.LINK_RUNS} WHERE run_id = ?", [run_id]).fetchone():
        raise Conflict(f"link run {run_id!r} already exists")
    _mark_abandoned(con, started_at)
    con.execute(
        f"INSERT INTO {tables.LINK_RUNS} (run_id, started_at, status) VALUES (?, ?, 'running')",
        [run_id, started_at],
    )
    done: list[str] = []  # stages (and the model's steps) finished so far

    def finished(name: str, seconds: float) -> None:
        done.append(name)
        if on_stage is not None:
            on_stage(name, seconds)

    try:
        timer = StageTimer(on_lap=finished)
        stages = timer.stages
        by_source = build_identities(con, run_id, extras=identity_extras(con),
                                     slice_rows=standardise_slice_rows(settings))
        records = sum(by_source.values())
        if records == 0:
            raise InputRejected("no identity records in staging: ingest files before linking")
        max_unit_row = con.execute(f"SELECT max(unit_id) FROM {tables.IDENTITIES}").fetchone()
        max_unit = int(max_unit_row[0]) if max_unit_row else 0
        timer.lap("standardise")

        weighed = has_rivals(by_source)  # else nothing to weigh (2 s at 8M to find that out)
        engine = open_backend(settings, run_id, warehouse=con)
        try:
            fitted = model.train_and_predict(
                con, engine, records=records,
                lower_threshold=scoring_floor(settings.review_lower_threshold, weighed),
                chunk_pairs=predict_chunk_pairs(settings),
                on_step=lambda name, _seconds: done.append(name),
            )
            edges = model.prediction_edges(fitted)
            timer.lap("train_predict")
            stages.update({f"model.{k}": v for k, v in fitted.stage_seconds.items()})
            artefacts = model.save_artefacts(fitted, runs_dir / run_id)
            timer.lap("artefacts")
        finally:
            engine.close()
        engine_facts = dict(engine.facts)
        rivals = RivalsReport()
        if weighed:
            edges, rivals = weigh_rivals(edges, unit_strata(con, max_unit),
                                         model.prior_of(fitted), settings.link_match_threshold,
                                         band=settings.review_lower_threshold)
            edges = in_band_or_above(edges, settings.review_lower_threshold)
        timer.lap("rivals")

        must, cannot = review.decision_links(con)
        graph = confident_graph(max_unit, edges, settings.link_match_threshold, must_link=must)
        twins = twin_conflicts(con, graph)
        enrolled = enrolment_conflicts(con, graph)
        dated = birth_date_conflicts(con, graph)
        result = cluster(
            max_unit, edges, settings.link_match_threshold,
            cannot_link=twins + enrolled + dated + cannot, must_link=must, graph=graph,
        )
        del graph
        timer.lap("cluster")

        queue_pairs = _review_pairs(edges, result.refused, settings)
        with transaction(con):
            changes = assign_person_ids(con, run_id, result.cluster_of)
            queue_size = review.write_queue(con, run_id, queue_pairs)
        timer.lap("stable_ids")
        drawn = quality.draw_sample(con, run_id, edges,
                                    sample_pairs=settings.quality_sample_pairs)
        estimated = quality.estimate(con, run_id)
        quality.store_estimate(con, estimated)
        timer.lap("quality_sample")

        prob = edges.column("match_probability").to_numpy()
        summary = LinkRunSummary(
            run_id=run_id,
            records_by_source=by_source,
            pairs_scored=fitted.pairs_scored,
            pairs_above_lower_threshold=int(len(prob)),
            pairs_above_threshold=int(np.count_nonzero(prob >= settings.link_match_threshold)),
            clusters=_distinct(result.cluster_of[1:]),
            match_threshold=settings.link_match_threshold,
            review_lower_threshold=settings.review_lower_threshold,
            review_queue_size=queue_size,
            review_labels_used=len(must) + len(cannot),
            pairs_refused_by_cannot_link=sum(1 for *_, p in result.refused if p < 1.0),
            match_rates=source_pair_rates(con),
            subgroup_rates=subgroup_rates(con),
            blocking_rules=[asdict(b) for b in fitted.blocking],
            id_changes=asdict(changes),
            artefacts=artefacts,
            seconds=0.0,
            peak_memory_mb=0.0,
            stage_seconds=stages,
            training=fitted.training.to_dict(),
            backend=settings.linkage_backend,
            predict_chunks=fitted.predict_chunks,
            engine=engine_facts,
            rivals=asdict(rivals),
            quality={**estimated.summary(), "frame_pairs": drawn["frame_pairs"],
                     "strata": drawn["strata"], "near_share": drawn["near_share"]},
        )
        timer.lap("summary")
        summary.seconds = round(time.perf_counter() - started, 3)
        summary.peak_memory_mb = round(_peak_memory_mb(), 1)
        (runs_dir / run_id / "summary.json").write_text(
            json.dumps(_without_leas(summary.to_dict()), indent=2), encoding="utf-8")
        _finish(con, run_id, "succeeded", summary)
        return summary
    except Exception as exc:
        stage = failed_stage(done)
        error = f"{type(exc).__name__}: {exc}".strip()[:4000]
        try:
            _finish(con, run_id, "failed", None, error=error, stage=stage)
            recorded = ""
        except duckdb.Error as record_exc:  # e.g. DuckDB invalidated the database
            recorded = (f" (the run record could not be updated: {type(record_exc).__name__}; "
                        "the next run marks it abandoned)")
        if isinstance(exc, InputRejected | Conflict | InternalError) and not recorded:
            raise
        advice = failure_advice(exc, settings, stage)
        first_line = error.splitlines()[0][:400] if error else type(exc).__name__
        raise InternalError(
            f"link run {run_id} failed in stage {stage}: {first_line}"
            + (f". {advice}" if advice else "") + recorded) from exc


def _distinct(labels: np.ndarray) -> int:
    """Distinct non-negative labels, counted without sorting (8M labels: np.unique sorted
    them for several seconds)."""
    return int(np.count_nonzero(np.bincount(labels))) if len(labels) else 0


def standardise_slice_rows(settings: Settings) -> int:
    """Grouped staging rows per slice of standardise's representative values: about
    STANDARDISE_ROWS_PER_GB for each GB of C2C_DUCKDB_MEMORY_LIMIT."""
    return max(100_000, int(STANDARDISE_ROWS_PER_GB * settings.duckdb_memory_limit_bytes / 1e9))


def predict_chunk_pairs(settings: Settings) -> int:
    """Candidate pairs per predict slice: C2C_LINK_PREDICT_CHUNK_PAIRS, else in proportion to
    C2C_DUCKDB_MEMORY_LIMIT."""
    if settings.link_predict_chunk_pairs is not None:
        return settings.link_predict_chunk_pairs
    return max(100_000, int(PREDICT_PAIRS_PER_GB * settings.duckdb_memory_limit_bytes / 1e9))


def failed_stage(done: list[str]) -> str:
    """The stage that was running: the first not finished (train_predict by the model's
    step: ``train_predict: predict``)."""
    for name in RUN_STAGES:
        if name not in done:
            if name == "train_predict":
                step = next((s for s in model.STEPS if s not in done), None)
                return f"{name}: {step}" if step else name
            return name
    return "finish"


def failure_advice(exc: BaseException, settings: Settings, stage: str) -> str:
    """What the operator changes so the next run gets through, when the error says."""
    text = str(exc).lower()
    if "no space left" in text or "max_temp_directory_size" in text:
        return (f"The disk under DuckDB's temp directory ({settings.tmp_dir}) is full: free "
                "space there (a state-size link spills tens of GB of encrypted blocks) or "
                "point C2C_HOME at a larger encrypted volume, then run the link again")
    if isinstance(exc, duckdb.OutOfMemoryException | MemoryError) or "out of memory" in text:
        slices = (f", or lower C2C_LINK_PREDICT_CHUNK_PAIRS (now "
                  f"{predict_chunk_pairs(settings):,}) so predict scores smaller slices"
                  if stage.endswith("predict") else "")
        return (f"DuckDB ran out of memory under C2C_DUCKDB_MEMORY_LIMIT="
                f"{settings.duckdb_memory_limit}: raise it (leave about 2 GB of the machine "
                f"for Python){slices}, then run the link again")
    if "checkpoint_rdd_block_id_not_found" in text or "executorlostfailure" in text:
        # a Spark worker (or executor) died mid-run: its checkpointed blocks went with it
        return ("A Spark executor was lost during the run (a worker died or was stopped) and "
                "its blocks with it; nothing was written. Check that every worker is alive "
                "(the master's web UI), then run the link again")
    return ""


def _without_leas(summary: dict[str, Any]) -> dict[str, Any]:
    """The run-directory copy holds aggregates only (no small per-LEA cells outside the
    warehouse); the full summary is in ``mdm.link_runs``."""
    copy = dict(summary)
    copy["subgroup_rates"] = {k: v for k, v in summary["subgroup_rates"].items() if k != "lea"}
    return copy


def _review_pairs(
    edges: pa.Table, refused: list[tuple[int, int, float]], settings: Settings
) -> pa.Table:
    """Uncertain band [lower, threshold) plus confident pairs a cannot-link refused (twin
    rule, overlapping enrolments, a clerical non-match): unit_l, unit_r, p, reason."""
    prob = edges.column("match_probability").to_numpy()
    band = (prob >= settings.review_lower_threshold) & (prob < settings.link_match_threshold)
    kept = [(a, b, p) for a, b, p in refused if p < 1.0]
    return pa.table({
        "unit_l": np.concatenate([edges.column("unit_id_l").to_numpy()[band].astype(np.int64),
                                  np.array([a for a, _, _ in kept], dtype=np.int64)]),
        "unit_r": np.concatenate([edges.column("unit_id_r").to_numpy()[band].astype(np.int64),
                                  np.array([b for _, b, _ in kept], dtype=np.int64)]),
        "p": np.concatenate([prob[band].astype(np.float64),
                             np.array([p for _, _, p in kept], dtype=np.float64)]),
        "reason": pa.array(["uncertain_band"] * int(band.sum()) + ["cannot_link"] * len(kept)),
    })


def _mark_abandoned(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """Runs still ``running`` were killed (kill -9, power loss) before they could say so.

    DuckDB lets one process write the warehouse and a process runs one link at a time, so
    whoever starts a run here is the only writer: no other run can be in progress.
    """
    con.execute(
        f"UPDATE {tables.LINK_RUNS} SET status = 'abandoned', finished_at = ? "
        "WHERE status = 'running'", [now])


def _finish(
    con: duckdb.DuckDBPyConnection, run_id: str, status: str, summary: LinkRunSummary | None,
    *, error: str | None = None, stage: str | None = None,
) -> None:
    con.execute(
        f"""UPDATE {tables.LINK_RUNS} SET finished_at = ?, status = ?, records = ?,
            pairs_scored = ?, clusters = ?, review_queue_size = ?, seconds = ?,
            peak_memory_mb = ?, summary_json = ?, error = ?, failed_stage = ?
            WHERE run_id = ?""",
        [
            datetime.now(UTC).replace(tzinfo=None), status,
            summary.records if summary else None,
            summary.pairs_scored if summary else None,
            summary.clusters if summary else None,
            summary.review_queue_size if summary else None,
            summary.seconds if summary else None,
            summary.peak_memory_mb if summary else None,
            json.dumps(summary.to_dict()) if summary else None,
            error, stage,
            run_id,
        ],
    )
