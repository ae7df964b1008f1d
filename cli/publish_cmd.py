"""CLI commands: ``outcomes`` (rebuild analytics.student_year) and ``publish`` (snapshot)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import analytics
from core.settings import Settings, get_settings
from services.publish import publish_snapshot, rebuild_outcomes

console = Console()


def print_outcomes(summary: analytics.OutcomeSummary) -> None:
    console.print(
        f"[bold]analytics.student_year[/]: {summary.rows:,} rows, {summary.persons:,} persons, "
        f"years {', '.join(summary.academic_years) or '-'} ({summary.seconds:.1f} s); "
        f"linked but not in K-12: CCGI only {summary.persons_only_in_ccgi:,}, "
        f"college only {summary.persons_only_in_college:,}"
    )


def print_published(serving_path: Path, limit: int = 12) -> None:
    """The short table of published outcomes (also what ``make demo`` shows)."""
    rows = analytics.summary_table(serving_path, limit=limit)
    table = Table(title="Published outcomes, all students (* = suppressed)")
    for column in ("academic_year", "reporting_lea", "metric", "numerator", "denominator",
                   "rate"):
        table.add_column(column, justify="right" if column in ("numerator", "denominator",
                                                                 "rate") else "left")
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


def _publish_with_progress(settings: Settings, min_cell: int) -> analytics.PublishSummary:
    """Run publish with a rich progress bar on a terminal; elsewhere one line per step
    would be noise in logs, so the summary line printed afterwards is the only output."""
    if not console.is_terminal:
        return publish_snapshot(settings=settings, min_cell=min_cell)
    with Progress(TextColumn("[bold]publish[/]"), BarColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("starting", total=3)

        def tell(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        return publish_snapshot(settings=settings, min_cell=min_cell, progress=tell)


def register(app: typer.Typer) -> None:
    """Add ``outcomes`` and ``publish`` to the app."""

    @app.command("outcomes")
    def outcomes_command() -> None:
        """Rebuild analytics.student_year (outcomes keyed by person_id; fails on identifiers)."""
        print_outcomes(rebuild_outcomes(settings=get_settings()))

    @app.command("publish")
    def publish_command(
        min_cell: int | None = typer.Option(
            None, "--min-cell", help="Smallest count shown (default C2C_SUPPRESSION_MIN_CELL)."
        ),
        with_outcomes: bool = typer.Option(
            True, "--rebuild-outcomes/--no-rebuild-outcomes",
            help="Rebuild analytics.student_year first.",
        ),
        rows: int = typer.Option(12, "--rows", help="Rows of the summary table to print."),
    ) -> None:
        """Write the serving snapshot (suppressed aggregates) atomically and print a summary."""
        settings = get_settings()
        threshold = min_cell if min_cell is not None else settings.suppression_min_cell
        if with_outcomes:
            with console.status("rebuilding analytics.student_year ..."):
                outcomes = rebuild_outcomes(settings=settings)
            print_outcomes(outcomes)
        summary = _publish_with_progress(settings, threshold)
        console.print(
            f"[bold]published[/] {summary.cells:,} cells ({summary.suppressed_cells:,} "
            f"suppressed, min cell {threshold}, counts cell-key rounded to 5) to "
            f"{summary.serving_path} as run "
            f"{summary.run_id} in {summary.seconds:.1f} s"
        )
        print_published(settings.serving_path, limit=rows)
