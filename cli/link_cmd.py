"""CLI commands: ``link``, ``link-provisional``, ``evaluate`` and ``export crosswalk``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

import linkage
from core.settings import get_settings
from core.warehouse import warehouse

console = Console()


def print_evaluation(result: linkage.Evaluation) -> None:
    console.print(f"[bold]pairwise[/]: precision {result.precision:.4f}  recall "
                  f"{result.recall:.4f}  F1 {result.f1:.4f}  (true pairs {result.true_pairs:,},"
                  f" predicted {result.predicted_pairs:,}, correct "
                  f"{result.true_positive_pairs:,})")
    console.print(f"[bold]clusters[/]: true persons {result.true_persons:,}, predicted "
                  f"{result.predicted_clusters:,}, exact {result.exact_cluster_rate:.4f}, "
                  f"pure {result.pure_cluster_rate:.4f}")
    twins = ("n/a" if result.twins_apart_rate is None
             else f"{result.twins_apart_rate:.4f} of {result.twin_pairs:,} pairs")
    console.print(f"twins kept apart: {twins}")
    for group, values in result.recall_by_group.items():
        shown = ", ".join(f"{k}: {'n/a' if v is None else f'{v:.4f}'}"
                          for k, v in values.items())
        console.print(f"recall by {group}: {shown}")
    if result.units_missing_from_crosswalk:
        console.print(f"[yellow]{result.units_missing_from_crosswalk:,} truth records "
                      "are not in the crosswalk[/]")


def register(app: typer.Typer) -> None:
    """Add ``link``, ``evaluate`` and ``export crosswalk``."""

    @app.command("link")
    def link(
        run_id: str | None = typer.Option(None, "--run-id", help="Default: link-<UTC time>."),
    ) -> None:
        """Annual link: standardise identities, Splink, stable person ids, run summary."""
        settings = get_settings()
        from cli.link_summary import print_summary
        from cli.progress import stages
        from governance.db import session_factory
        from services.annual_link import link_annual

        def told(notes: list) -> None:  # type: ignore[type-arg]
            if notes:
                console.print(f"notes queued to holders of {len(notes)} earlier extract(s) "
                              "whose people's ids changed (counts only)")

        with stages(console, "link (standardise, train_predict, cluster, stable_ids)"
                    ) as on_stage:
            summary = link_annual(settings=settings, run_id=run_id, on_stage=on_stage,
                                  sessions=lambda: session_factory(settings.governance_url),
                                  on_notes=told)
        print_summary(summary)
        console.print("why ids changed, per partner: .venv/bin/c2c id-changes")
        console.print(f"model and charts: {settings.runs_dir / summary.run_id}")

    @app.command("link-provisional")
    def link_provisional(
        run_id: str | None = typer.Option(None, "--run-id", help="Default: prov-<UTC time>."),
        agreement: bool = typer.Option(
            False, "--agreement",
            help="Judge the provisional links against the annual run that followed them."),
        file_ids: list[str] | None = typer.Option(
            None, "--file", help="A file id from the receipt of a file just loaded (repeat): "
            "look for new records in its rows only. Default: all staging."),
    ) -> None:
        """Provisional person ids for records the last annual link did not see."""
        settings = get_settings()
        from services.provisional_link import judge_provisional, link_new_records

        if agreement:
            judged = judge_provisional(settings=settings)
            shown = "n/a" if judged.agreement is None else f"{100 * judged.agreement:.2f} %"
            console.print(f"provisional units judged {judged.units:,}: confirmed "
                          f"{judged.confirmed:,}, merged {judged.merged:,}, split "
                          f"{judged.split:,}; agreement {shown}")
            return
        summary = link_new_records(settings=settings, run_id=run_id, files=file_ids)
        console.print(f"[bold]provisional run {summary.run_id}[/] against annual run "
                      f"{summary.model_run_id} in {summary.seconds:.1f} s: {summary.new_units:,}"
                      f" new records, {summary.linked_to_existing:,} given an existing person,"
                      f" {summary.new_persons:,} provisional persons (ids T...); MDM units "
                      f"{summary.mdm_units:,}. PROVISIONAL: in mdm.provisional_links until the "
                      "next annual link confirms, merges or splits them")

    @app.command("evaluate")
    def evaluate(
        truth: Path = typer.Option(..., "--truth", help="The generator's truth.parquet."),
    ) -> None:
        """Pairwise precision / recall / F1 and cluster metrics of the current crosswalk."""
        settings = get_settings()
        with warehouse(settings) as con:
            print_evaluation(linkage.evaluate(con, truth))

    export_app = typer.Typer(help="Operator exports.", no_args_is_help=True)

    @export_app.command("crosswalk")
    def crosswalk(
        out: Path = typer.Option(..., "--out", help="Target .csv or .parquet file."),
    ) -> None:
        """Write mdm.crosswalk (holds partner ids: keep the file in the secure area)."""
        settings = get_settings()
        with warehouse(settings) as con:
            rows = linkage.export_crosswalk(con, out)
        console.print(f"wrote {rows:,} crosswalk rows to {out}")

    app.add_typer(export_app, name="export")
