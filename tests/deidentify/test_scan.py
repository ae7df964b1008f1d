"""The identifier scanner catches planted identifiers and leaves normal outputs alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

import deidentify
from core.warehouse import connect_encrypted
from deidentify.scan import IdentifierFound, require_clean, scan_table
from tests.deid_support import NOW, make_keys, make_student_year, request

N = 40


def _normal() -> pa.Table:
    """A typical extract: pseudonyms, codes, years, bands, flags, rates."""
    return pa.table({
        "pseudonym_id": [f"{i:032x}" for i in range(7 * 10**20, 7 * 10**20 + N)],
        "academic_year": ["2022-23"] * N,
        "reporting_lea": [f"{1100000 + i % 5}" for i in range(N)],
        "county_code": ["19"] * N,
        "school_code": [f"{1900000 + i % 9}" for i in range(N)],
        "grade_level": ["09", "10", "11", "12"] * (N // 4),
        "birth_year": pa.array([2006 + i % 4 for i in range(N)], pa.int32()),
        "birth_band": ["2005-2009"] * N,
        "gender": ["F", "M", "X", "*"] * (N // 4),
        "race_ethnicity": ["hispanic", "white", "asian", "black", "filipino", "other",
                           "pacific_islander", "american_indian", "two_or_more", "*"] * (N // 10),
        "hs_graduate": [i % 3 == 0 for i in range(N)],
        "students": list(range(11, 11 + N)),
        "rate": [0.5] * N,
    })


def test_normal_outputs_are_not_flagged() -> None:
    assert scan_table(_normal()) == []


def test_a_real_built_extract_is_not_flagged(tmp_path: Path) -> None:
    root = tmp_path
    keys = make_keys(root)
    con = connect_encrypted(root / "w.duckdb", keys.warehouse_key_hex())
    make_student_year(con, 300)
    everything = ["person_id", "academic_year", "reporting_lea", "county_code", "school_code",
                  "grade_level", "birth_year", "gender", "race_ethnicity", "homeless",
                  "ag_eligible"]
    result = deidentify.build_extract(con, request(variables=everything), keys, root, now=NOW,
                                      earlier_extracts={})
    assert result.disclosure is not None and result.disclosure.scan == "passed"
    table = deidentify.open_extract(result.package_path, keys=keys, now=NOW).table()
    assert scan_table(table) == []


PLANTS: dict[str, tuple[str, pa.Array]] = {
    "ssid": ("code", pa.array(["19"] * (N - 1) + ["1234567890"])),
    "ssid as integer": ("ref", pa.array([4_000_000_000 + i for i in range(N)], pa.int64())),
    "ssn": ("code", pa.array(["19"] * (N - 1) + ["572-19-8830"])),
    "dob iso": ("when", pa.array(["2022-23"] * (N - 1) + ["2008-03-17"])),
    "dob us": ("when", pa.array(["x"] * (N - 1) + ["3/17/2008"])),
    "dob calpads": ("when", pa.array(["x"] * (N - 1) + ["20080317"])),
    "dob calpads as integer": ("when", pa.array([20080317 + i for i in range(N)], pa.int64())),
    "dob date type": ("when", pa.array([dt.date(2008, 3, 17)] * N)),
    "address": ("where", pa.array(["x"] * (N - 1) + ["4417 Mission Creek Blvd"])),
    "po box": ("where", pa.array(["x"] * (N - 1) + ["PO Box 1234"])),
    "zip": ("where", pa.array(["19"] * (N - 1) + ["95814"])),
    "email": ("who", pa.array(["x"] * (N - 1) + ["maria.g@example.com"])),
    "phone": ("who", pa.array(["x"] * (N - 1) + ["(916) 555-0142"])),
    "first names": ("label", pa.array(["Maria", "Jose", "Daniel", "Sofia", "Minh"] * (N // 5))),
    "full names": ("label", pa.array([f"{a} {b}" for a, b in zip(
        ["Maria", "Jose", "Daniel", "Sofia", "Minh", "Wei", "Ana", "Luis"] * 5,
        ["Garcia", "Nguyen", "Kim", "Lopez", "Tran"] * 8, strict=True)])),
    "last, first": ("label", pa.array(["GARCIA, MARIA", "NGUYEN, MINH", "KIM, DANIEL",
                                       "LOPEZ, ANA"] * (N // 4))),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_planted_identifier_values_are_caught(plant: str) -> None:
    column, values = PLANTS[plant]
    table = _normal().append_column(column, values)
    findings = scan_table(table)
    assert [f.column for f in findings] == [column], findings
    with pytest.raises(IdentifierFound) as caught:
        require_clean(findings, "test extract")
    # The message names the column and kind, never the value.
    for value in values.to_pylist()[-1:]:
        assert str(value) not in str(caught.value)


@pytest.mark.parametrize("column", ["first_name", "LastName", "student_name", "dob",
                                    "birth_date", "ssid", "ssn", "home_address", "zip_code",
                                    "email", "person_id", "local_student_id",
                                    # names the analytics scanner flags too (one scanner)
                                    "city", "tin", "ccc_id", "ccgi_account_id"])
def test_identifier_column_names_are_caught(column: str) -> None:
    table = _normal().append_column(column, pa.array(["*"] * N))
    assert [f.column for f in scan_table(table)] == [column]


def test_dictionary_encoded_columns_are_scanned_by_their_values() -> None:
    """Parquet readers hand back dictionary columns: the values behind the codes count."""
    planted = pa.array(["19"] * (N - 1) + ["572-19-8830"]).dictionary_encode()
    findings = scan_table(_normal().append_column("code", planted))
    assert [(f.column, f.kind) for f in findings] == [("code", "ssn")]
    clean = pa.array(["19", "20"] * (N // 2)).dictionary_encode()
    assert scan_table(_normal().append_column("code", clean)) == []


def test_an_all_null_date_column_holds_no_birth_dates() -> None:
    empty = pa.array([None] * N, pa.date32())
    assert scan_table(_normal().append_column("when", empty)) == []
    one = pa.array([None] * (N - 1) + [dt.date(2008, 3, 17)], pa.date32())
    assert [(f.kind, f.matches) for f in scan_table(_normal().append_column("when", one))] \
        == [("dob", 1)]
