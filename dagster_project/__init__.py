"""Dagster orchestration of c2c-link: `dagster dev -m dagster_project` loads ``defs``."""

from dagster_project.definitions import build_definitions, defs

__all__ = ["build_definitions", "defs"]
