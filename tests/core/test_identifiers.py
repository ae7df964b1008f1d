"""The shared identifier rules (core.identifiers): findings describe, never echo values."""

from __future__ import annotations

import re

import pytest

from core.errors import IdentifierFound, InternalError
from core.identifiers import (
    ANALYTICS_ALLOWED_COLUMNS,
    BY_COLUMN_NAME,
    BY_COLUMN_TYPE,
    BY_STAGING_VALUES,
    BY_VALUES,
    COLUMN_NAME_RULES,
    KINDS,
    VALUE_RULES,
    Finding,
    column_name_kind,
    require_clean,
)


def test_every_rule_names_a_known_kind_and_compiles() -> None:
    for rule in (*COLUMN_NAME_RULES, *VALUE_RULES):
        assert rule.kind in KINDS
        re.compile(rule.pattern)


@pytest.mark.parametrize(("column", "kind"), [
    ("first_name", "name"), ("home_city", "address"), ("velocity", None), ("city", "address"),
    ("tin", "ssn"), ("birth_year", None), ("grade_level", None)])
def test_column_names(column: str, kind: str | None) -> None:
    assert column_name_kind(column) == kind


def test_allowed_columns_never_flag() -> None:
    assert column_name_kind("person_id") == "local_id"
    assert column_name_kind("person_id", ANALYTICS_ALLOWED_COLUMNS) is None


@pytest.mark.parametrize(("finding", "text"), [
    (Finding("dob", "dob", BY_COLUMN_NAME), "column 'dob': its name suggests dob"),
    (Finding("d", "dob", BY_COLUMN_TYPE, table="analytics.t"),
     "analytics.t.d: a full-date column (dob)"),
    (Finding("n", "name", BY_STAGING_VALUES, 3, table="analytics.t"),
     "analytics.t.n: 3 rows hold a name seen in staging"),
    (Finding("c", "ssid", BY_VALUES, 2, 40), "column 'c': 2 of 40 distinct values look like ssid"),
    (Finding("c", "ssid", BY_VALUES, 5, table="analytics.t"),
     "analytics.t.c: 5 rows look like ssid"),
])
def test_descriptions(finding: Finding, text: str) -> None:
    assert finding.describe() == text


def test_require_clean_passes_nothing_and_refuses_anything() -> None:
    require_clean([], "extract R1")
    many = [Finding(f"c{i}", "ssid", BY_VALUES, 1, 1) for i in range(25)]
    with pytest.raises(IdentifierFound, match="extract R1 refused") as caught:
        require_clean(many, "extract R1")
    assert isinstance(caught.value, InternalError)
    assert caught.value.findings == many
    assert "(and 5 more)" in str(caught.value) and "c24" not in str(caught.value)
