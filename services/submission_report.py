"""Use case: the submission report (rows received per partner, academic year and file type,
what is missing, deadline status): ``c2c submissions``, the Dagster report asset, the partner
pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from core.partners import Partner
from core.settings import Settings
from core.warehouse import warehouse
from ingest.submissions import SubmissionRow, submission_report, write_csv


def report_submissions(*, settings: Settings, partners: Sequence[Partner], as_of: date,
                       csv_path: Path | None = None) -> list[SubmissionRow]:
    """The report as of ``as_of``; also written to ``csv_path`` when given."""
    with warehouse(settings) as con:
        rows = submission_report(con, list(partners), as_of)
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(rows, csv_path)
    return rows
