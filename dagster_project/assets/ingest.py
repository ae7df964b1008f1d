"""Ingest assets: partner files from the landing folder into the raw store and staging."""


from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg

from dagster_project.metadata import md_table
from dagster_project.partitions import academic_year_partitions
from dagster_project.resources import C2CResource
from ingest import Receipt
from ingest.landing import files_for
from services.ingest_batch import ingest_batch, registered_partners
from services.submission_report import report_submissions

GROUP = "ingest"


class IngestConfig(dg.Config):  # type: ignore[misc]
    """``files`` empty means every landed file of the source (and year); the sensor names files."""

    files: list[str] = []


def ingest_and_describe(c2c: C2CResource, paths: list[Path]) -> dg.MaterializeResult:
    """Ingest ``paths``; metadata counts receipts. Rejections do not fail the asset: receipts
    tell partners what to fix, and the row-count check guards what was loaded."""
    receipts = ingest_batch(settings=c2c.settings(), keys=c2c.key_provider(), paths=paths,
                            partners=registered_partners(sessions=c2c.sessions()))
    return dg.MaterializeResult(metadata=receipt_metadata(receipts))


def receipt_metadata(receipts: list[Receipt]) -> dict[str, Any]:
    status = Counter(str(r.status) for r in receipts)
    by_kind: dict[str, Counter[str]] = {}
    for r in receipts:
        counts = by_kind.setdefault(r.kind or "unidentified", Counter())
        counts[str(r.status)] += 1
        counts["rows"] += r.rows if str(r.status) == "accepted" else 0
    rejected = [f"{r.file_name}: {r.message}" for r in receipts if r.rejected][:20]
    return {
        "files": len(receipts),
        "accepted": status.get("accepted", 0),
        "held": status.get("held", 0),
        "rejected": status.get("rejected", 0),
        "rows": sum(r.rows for r in receipts if str(r.status) == "accepted"),
        "rejections": dg.MetadataValue.md("\n".join(f"- {r}" for r in rejected) or "none"),
        "by_file_type": dg.MetadataValue.md(md_table(
            ("file type", "accepted", "held", "rejected", "rows"),
            [(kind, c["accepted"], c["held"], c["rejected"], c["rows"])
             for kind, c in sorted(by_kind.items())])),
    }


def _paths(config: IngestConfig, landing: Path, source: str, year: str | None) -> list[Path]:
    if config.files:
        return [Path(f) for f in config.files]
    return files_for(landing, source, year)


@dg.asset(partitions_def=academic_year_partitions, group_name=GROUP)
def calpads_staging(
    context: dg.AssetExecutionContext, config: IngestConfig, c2c: C2CResource
) -> dg.MaterializeResult:
    """CALPADS ODS extracts (all seven types) of one academic year, validated into staging."""
    landing = c2c.settings().landing_path
    return ingest_and_describe(c2c, _paths(config, landing, "calpads", context.partition_key))


@dg.asset(group_name=GROUP)
def college_staging(config: IngestConfig, c2c: C2CResource) -> dg.MaterializeResult:
    """Community college student, enrollment and award files, validated into staging."""
    return ingest_and_describe(c2c, _paths(config, c2c.settings().landing_path, "college", None))


@dg.asset(group_name=GROUP)
def ccgi_staging(config: IngestConfig, c2c: C2CResource) -> dg.MaterializeResult:
    """CaliforniaColleges.edu weekly activity files, validated into staging."""
    return ingest_and_describe(c2c, _paths(config, c2c.settings().landing_path, "ccgi", None))


@dg.asset(group_name=GROUP, deps=[calpads_staging])
def calpads_submission_report(c2c: C2CResource) -> dg.MaterializeResult:
    """Per partner and year: rows per CALPADS file type, what is missing, deadline status."""
    from datetime import date

    out = c2c.settings().reports_dir / f"submissions-{date.today():%Y-%m-%d}.csv"
    rows = report_submissions(settings=c2c.settings(), as_of=date.today(), csv_path=out,
                              partners=registered_partners(sessions=c2c.sessions()))
    late = [r for r in rows if r.missing]
    return dg.MaterializeResult(metadata={
        "partner_years": len(rows),
        "incomplete_partner_years": len(late),
        "report": dg.MetadataValue.path(str(out)),
    })
