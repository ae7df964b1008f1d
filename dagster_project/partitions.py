"""Partitions: CALPADS data arrives one set per academic year, so ingest is partitioned by year."""

from __future__ import annotations

import dagster as dg

FIRST_YEAR = 2018  # K12 SWP Round 1 starts with 2018-19
LAST_YEAR = 2026


def year_label(start: int) -> str:
    return f"{start}-{str(start + 1)[-2:]}"


ACADEMIC_YEARS = [year_label(y) for y in range(FIRST_YEAR, LAST_YEAR + 1)]
academic_year_partitions = dg.StaticPartitionsDefinition(ACADEMIC_YEARS)
