"""Table names shared across packages. Schema names are the warehouse layers of DESIGN.md."""

from __future__ import annotations

from core.calpads import FILE_TYPES

INGEST = "ingest"
STAGING = "staging"
MDM = "mdm"
ANALYTICS = "analytics"
SCHEMAS = (INGEST, STAGING, MDM, ANALYTICS)

# ingest.*: what was received and what became of it
FILES = "ingest.files"  # one row per received file (sha256, partner, type, year, status)
RECEIPTS = "ingest.receipts"
LOAD_ERRORS = "ingest.errors"

# staging.*: typed source rows, every row with file_id and line_no (provenance)
PROVENANCE_COLUMNS = ("file_id", "line_no")


def calpads_staging(file_type: str) -> str:
    """``SENR`` -> ``staging.calpads_senr``."""
    if file_type not in FILE_TYPES:
        raise ValueError(f"unknown CALPADS file type {file_type!r}")
    return f"{STAGING}.calpads_{file_type.lower()}"


def csv_staging(kind: str) -> str:
    """``college_students`` -> ``staging.college_students`` (kinds in core.partner_formats)."""
    return f"{STAGING}.{kind}"


# mdm.*: identities, linkage results and stable ids
IDENTITIES = "mdm.identities"  # standardised identity records, input of the link
LINK_RUNS = "mdm.link_runs"
CROSSWALK = "mdm.crosswalk"  # (source_system, partner_org, source_person_id, person_id, run_id)
PERSON_LINEAGE = "mdm.person_lineage"
REVIEW_QUEUE = "mdm.review_queue"
REVIEW_DECISIONS = "mdm.review_decisions"
RECORD_PERSON = "mdm.record_person"  # identity record -> person_id of the latest run
QUALITY_SAMPLE = "mdm.quality_sample"  # clerical sample drawn by match weight, per run
QUALITY_STRATA = "mdm.quality_strata"  # pairs in each stratum x domain, per run
LINK_QUALITY = "mdm.link_quality"  # estimated precision / recall with intervals, per run

# analytics.*: keyed by person_id only, no identifiers
PERSON_OUTCOMES = "analytics.person_outcomes"
AGGREGATES = "analytics.aggregates"

SOURCE_SYSTEMS = ("calpads", "college", "ccgi")
