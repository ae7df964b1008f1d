"""``c2c quality estimate | review-from-truth``: linkage quality without a truth file.

The use case is ``services.link_quality``; the sample's pairs are decided with ``c2c review
list --sample`` and ``c2c review decide``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from core.settings import get_settings

quality_app = typer.Typer(help="Linkage quality from the clerical sample: estimate precision "
                          "and recall with intervals.", no_args_is_help=True)
console = Console()


def _interval(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def print_quality(block: dict[str, Any], *, partners: bool = False) -> None:
    """A run's ``quality`` block (also printed by ``c2c link`` and ``c2c demo``)."""
    status = block.get("status", "no_sample")
    console.print(f"linkage quality: {status}; sample {block.get('sample_pairs', 0)} pairs, "
                  f"reviewed {block.get('reviewed_pairs', 0)}", highlight=False)
    if status != "estimated":
        waiting = block.get("waiting_strata") or []
        if waiting:
            console.print(f"  {len(waiting)} strata have no decision yet: review them with "
                          "`c2c review list --sample` / `c2c review decide`, then run "
                          "`c2c quality estimate`", highlight=False)
        return
    table = Table("source pair", "group", "linked pairs", "precision [95%]", "recall [95%]",
                  title="estimated linkage quality (" + str(block.get("method", "")) + ")")
    for row in block.get("estimates", []):
        # the source pairs overall and the student groups overall; the groups within each
        # source pair (and the partners) are in mdm.link_quality and on the public page
        if row["dimension"] == "partner" and not partners:
            continue
        if row["dimension"] != "all" and row["source_pair"] != "all":
            continue
        group = "all" if row["dimension"] == "all" else f"{row['dimension']}: {row['value']}"
        table.add_row(row["source_pair"], group, f"{row['linked_pairs']:,}",
                      _interval(row["precision"], row["precision_low"], row["precision_high"]),
                      _interval(row["recall"], row["recall_low"], row["recall_high"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``quality``."""
    app.add_typer(quality_app, name="quality")


@quality_app.command("estimate")
def estimate_cmd(run_id: str | None = typer.Option(
        None, help="Link run (default: the latest that drew a sample).")) -> None:
    """Estimate precision and recall from the reviewed sample; store them for publishing."""
    from services.link_quality import estimate_link_quality

    result = estimate_link_quality(settings=get_settings(), run_id=run_id)
    print_quality(result.summary())


@quality_app.command("review-from-truth")
def review_from_truth_cmd(
    truth: Path = typer.Option(..., exists=True, dir_okay=False,
                               help="truth.parquet from `c2c generate`"),
    run_id: str | None = typer.Option(None, help="Link run (default: the latest sample)."),
) -> None:
    """Generated data only: answer the sample's pairs from the generator's truth file."""
    from services.link_quality import TRUTH_REVIEWER, review_sample_from_truth

    n = review_sample_from_truth(settings=get_settings(), truth=truth, run_id=run_id)
    console.print(f"{n} sample pair(s) decided by {TRUTH_REVIEWER}", highlight=False)
