"""Use case: the data-quality return to a partner (``ingest.quality``), on screen and as CSV.

The API's ``/v1/partner/quality`` (and ``quality.csv``) and the portal's partner quality page
call these. The partner's own rows are its own data: counts are shown exactly. The org code
always comes from the caller's key, never from the request.
"""

from __future__ import annotations

import csv
import io

from core.settings import Settings
from core.warehouse import warehouse
from ingest.quality import MEASURES, QualityReturn, quality_return


def partner_quality(*, settings: Settings, org: str) -> QualityReturn:
    """``org``'s return from the warehouse (read-only; ``Busy`` while a pipeline run writes)."""
    with warehouse(settings, read_only=True) as con:
        return quality_return(con, org)


CSV_COLUMNS = ("section", "year", "kind", "file", "measure", "value", "rows", "share",
               "last_year", "last_year_share", "id_a", "id_b", "rule", "detail")


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def quality_csv(result: QualityReturn) -> str:
    """One CSV with the three sections (``section`` column): completeness, possible
    multiple identifiers and validation failures, in the partner's own terms."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for c in result.completeness:
        for measure in MEASURES:
            n = c.counts.get(measure)
            if n is None:
                continue
            writer.writerow({"section": "completeness", "year": c.year, "kind": c.kind,
                             "file": c.file or "(all files)", "measure": measure, "value": n,
                             "rows": c.rows, "share": _share(c.share(measure)),
                             "last_year": c.last_year or "",
                             "last_year_share": _share(c.last_year_share.get(measure))})
    for p in result.pairs:
        writer.writerow({"section": "possible_multiple_ids", "year": p.year, "kind": p.kind,
                         "file": p.files, "measure": p.id_label, "id_a": p.id_a,
                         "id_b": p.id_b, "rule": p.rule})
    for f in result.failures:
        writer.writerow({"section": "validation_failures", "year": f.year, "kind": f.kind,
                         "measure": f.field, "value": f.errors, "rule": f.rule,
                         "file": f"{f.files} file(s)",
                         "detail": ("at least: a file had more errors than it stored; "
                                    if f.capped else "")
                         + f"lines {f.example_lines}: {f.message}"})
    return out.getvalue()
