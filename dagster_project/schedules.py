"""Schedules (Pacific time, the partners' own clock)."""

from __future__ import annotations

import dagster as dg

from dagster_project.jobs import annual_link_job, calpads_completeness_job, ccgi_ingest_job

TIMEZONE = "America/Los_Angeles"

# CCGI sends activity weekly: ingest it every Monday morning.
ccgi_weekly = dg.ScheduleDefinition(
    name="ccgi_weekly", job=ccgi_ingest_job, cron_schedule="0 6 * * 1",
    execution_timezone=TIMEZONE,
)
# CALPADS extracts are due 1 November: report completeness the morning after.
calpads_completeness = dg.ScheduleDefinition(
    name="calpads_completeness_after_deadline", job=calpads_completeness_job,
    cron_schedule="0 7 2 11 *", execution_timezone=TIMEZONE,
)
# The annual link runs once every source's year is in: 1 December.
annual_link_yearly = dg.ScheduleDefinition(
    name="annual_link_yearly", job=annual_link_job, cron_schedule="0 2 1 12 *",
    execution_timezone=TIMEZONE,
)

SCHEDULES = [ccgi_weekly, calpads_completeness, annual_link_yearly]
