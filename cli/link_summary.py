"""The annual link's run summary as the operator reads it."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

import linkage

console = Console()


def print_summary(summary: linkage.LinkRunSummary) -> None:
    """The run summary as the operator reads it (also used by ``c2c demo``)."""
    console.print(f"[bold]link run {summary.run_id}[/] on {summary.backend} "
                  f"in {summary.seconds:.1f} s, peak memory {summary.peak_memory_mb:.0f} MB")
    sources = ", ".join(f"{k} {v:,}" for k, v in summary.records_by_source.items())
    console.print(f"records: {summary.records:,} ({sources})")
    console.print(f"pairs scored: {summary.pairs_scored:,}; at or above threshold "
                  f"{summary.match_threshold}: {summary.pairs_above_threshold:,}; "
                  f"persons (clusters): {summary.clusters:,}")
    console.print(f"review queue: {summary.review_queue_size:,} pairs in "
                  f"[{summary.review_lower_threshold}, {summary.match_threshold}); "
                  f"labels used: {summary.review_labels_used}; "
                  f"pairs refused by twin rule / non-match labels: "
                  f"{summary.pairs_refused_by_cannot_link}")
    changes = summary.id_changes
    console.print(f"person ids: kept {changes['kept']:,}, created {changes['created']:,}, "
                  f"merged {changes['merged']:,}, split {changes['split']:,}, "
                  f"retired {changes['retired']:,}")
    rates = Table("source -> also in", "match rate", title="match rates")
    for key, rate in summary.match_rates.items():
        rates.add_row(key, f"{rate:.3f}")
    console.print(rates)
    groups = Table("dimension", "value", "K-12 records", "linked beyond K-12",
                   title="CALPADS records linked to college or CCGI, by subgroup")
    for dimension in ("ethnicity", "gender"):
        for row in summary.subgroup_rates.get(dimension, []):
            groups.add_row(dimension, str(row["value"]), f"{row['records']:,}",
                           f"{float(row['rate']):.3f}")  # type: ignore[arg-type]
    console.print(groups)
    console.print(f"LEAs: {len(summary.subgroup_rates.get('lea', []))} "
                  "(per-LEA rates in mdm.link_runs.summary_json)")
    from cli.quality_cmd import print_quality
    print_quality(summary.quality)
    # fallbacks and Splink's own messages, summarised (linkage/training.py)
    from linkage.training import TrainingReport
    report = TrainingReport(**summary.training) if summary.training else TrainingReport()
    for line in report.lines() or ["model trained from this run's data; no fallbacks"]:
        console.print(f"training: {line}", markup=False, highlight=False)
