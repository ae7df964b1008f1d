"""Use case: linkage quality estimated without a truth file (``c2c quality``, the demo).

Each annual link draws a clerical sample by match weight (linkage/quality.py); reviewers decide
its pairs through the clerical review path (``c2c review list --sample``, ``c2c review
decide``); this estimates precision and recall with 95% intervals from their decisions, keeps
them in ``mdm.link_quality`` and in the run's summary (``mdm.link_runs``), from where ``c2c
publish`` releases them to the serving snapshot (the public linkage-quality page).
"""

from __future__ import annotations

import json
from pathlib import Path

from core import tables
from core.settings import Settings
from core.warehouse import warehouse
from linkage.quality import (
    QualityEstimate,
    answer_from_truth,
    estimate,
    latest_sampled_run,
    store_estimate,
)

TRUTH_REVIEWER = "truth-file (generated data)"


def estimate_link_quality(*, settings: Settings, run_id: str | None = None) -> QualityEstimate:
    """Estimate from the decisions so far; ``awaiting_review`` (and no figures) while a
    stratum of the sample has none."""
    with warehouse(settings) as con:
        run = run_id or latest_sampled_run(con)
        result = estimate(con, run)
        store_estimate(con, result)
        row = con.execute(f"SELECT summary_json FROM {tables.LINK_RUNS} WHERE run_id = ?",
                          [run]).fetchone()
        if row and row[0]:
            summary = json.loads(row[0])
            summary["quality"] = {**summary.get("quality", {}), **result.summary()}
            con.execute(f"UPDATE {tables.LINK_RUNS} SET summary_json = ? WHERE run_id = ?",
                        [json.dumps(summary), run])
    return result


def review_sample_from_truth(*, settings: Settings, truth: Path,
                             run_id: str | None = None) -> int:
    """Generated data only (the demo, tests): answer the sample's clerical questions from the
    generator's truth file, as a stand-in reviewer named ``TRUTH_REVIEWER``. Returns the
    decisions recorded."""
    with warehouse(settings) as con:
        run = run_id or latest_sampled_run(con)
        return answer_from_truth(con, run, truth, reviewer=TRUTH_REVIEWER)
