"""What ``c2c demo`` prints about the pipeline it ran: each asset's metadata, the submission
report, the linkage evaluation, the published outcomes and the operator's next steps."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from core.settings import Settings

console = Console()


def bin_prefix() -> str:
    """Where this ``c2c`` lives, as the user can type it: ``.venv/bin/`` after ``make demo``
    (printed commands must work as printed, without activating the venv)."""
    here = Path(sys.executable).parent
    try:
        return f"{here.relative_to(Path.cwd())}/"
    except ValueError:
        return f"{here}/"


def print_stage_metadata(run: Any) -> None:
    """One line per asset (a table of free-form metadata does not fit 80 columns)."""
    console.print("What each asset reported (full metadata in the Dagster UI):", highlight=False)
    for asset, metadata in run.metadata.items():
        shown = {k: v for k, v in metadata.items()
                 if isinstance(v, int | float | str) and "\n" not in str(v)}
        text = ", ".join(f"{k}={v}" for k, v in list(shown.items())[:6])
        console.print(f"  {asset}: {text}", highlight=False, markup=False, soft_wrap=True)
    failed = run.failed_checks
    colour = "red" if failed else "green"
    console.print(f"[{colour}]asset checks: {len(run.checks) - len(failed)} passed, "
                  f"{len(failed)} failed[/] {', '.join(failed)}", highlight=False)


def print_submissions_summary(settings: Settings) -> None:
    """A compact view of `c2c submissions` (the full report goes to CSV)."""
    from cli.ingest_cmd import load_partner_registry
    from cli.submissions_view import print_submissions
    from services.submission_report import report_submissions

    out = settings.reports_dir / "submissions.csv"
    rows = report_submissions(settings=settings, as_of=date.today(), csv_path=out,
                              partners=load_partner_registry(settings, None))
    print_submissions(console, rows, "CALPADS submissions (SWP rounds)")
    console.print(f"full report: {out}", highlight=False, soft_wrap=True)


def print_link_report(settings: Settings, truth: Path) -> None:
    import linkage
    from cli.link_cmd import print_evaluation
    from core.warehouse import warehouse

    with warehouse(settings, read_only=True) as con:
        console.rule("Linkage evaluation against the generator's truth file")
        print_evaluation(linkage.evaluate(con, truth))
    print_id_changes(settings)


def print_id_changes(settings: Settings) -> None:
    """The operator's change log of person ids (``c2c id-changes``), in one line per event."""
    from services.id_change_log import operator_change_log

    log = operator_change_log(settings=settings)
    said = "; ".join(f"{event}: " + ", ".join(f"{n:,} {reason}" for reason, n in why.items())
                     for event, why in log.ids.items()) or "none"
    console.print(f"person ids changed by link run {log.run_id} (exact, operator's view): "
                  f"{said}. Partners read their records' share gated on "
                  "/portal/partner/quality, with their data-quality return and its CSV.",
                  highlight=False, soft_wrap=True)


def print_linkage_quality(settings: Settings, resources: dict[str, Any],
                          instance: Any, truth: Path, base_url: str) -> None:
    """The link's clerical quality sample answered from the truth file (a stand-in reviewer:
    generated data only), then ``linkage_quality_job`` estimates and republishes."""
    from cli.quality_cmd import print_quality
    from dagster_project.run import materialize_quality
    from services.link_quality import (
        TRUTH_REVIEWER,
        estimate_link_quality,
        review_sample_from_truth,
    )

    console.rule("Linkage quality without a truth file: the clerical sample")
    n = review_sample_from_truth(settings=settings, truth=truth)
    console.print(f"{n} sampled pair(s) decided by a stand-in reviewer ({TRUTH_REVIEWER}); on "
                  "real data reviewers decide them with `c2c review list --sample` / "
                  "`c2c review decide`", highlight=False, soft_wrap=True)
    materialize_quality(resources, instance)  # linkage_quality_job: estimate, republish
    print_quality(estimate_link_quality(settings=settings).summary())
    console.print(f"public page: {base_url}/portal/public/linkage-quality (error bands beside "
                  "college-going rates on the dashboard)", highlight=False, soft_wrap=True)


def print_published(settings: Settings) -> None:
    from analytics import summary_table

    rows = summary_table(settings.serving_path, limit=12)
    table = Table(title="Published outcomes (small cells suppressed)")
    for column in rows[0] if rows else []:
        table.add_column(column)
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


def print_next_steps(settings: Settings, landing: Path) -> None:
    """The operator's walkthrough (README, "After the demo") in the demo's own folders."""
    home = settings.resolved_home
    bin_ = bin_prefix()
    console.print("Next, as the operator (README, 'After the demo'):", highlight=False)
    for line in (
        f"export C2C_HOME={home} C2C_LANDING_DIR={landing} C2C_MAIL_DIR={settings.mail_dir}",
        f"{bin_}c2c review list            # pairs the link was unsure about",
        f"{bin_}c2c id-changes             # ids merged, split, retired by the last link, why",
        f"{bin_}c2c link-provisional       # provisional ids for records sent since the link",
        f"{bin_}c2c fulfil                 # build approved requests (the demo does it itself)",
    ):
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
