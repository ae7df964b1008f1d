"""Issue #20 item 11: k holds per person across all their rows, not only per row."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import deidentify
from core.warehouse import connect_encrypted
from tests.deid_support import NOW, make_keys, make_student_year, request


def test_a_unique_multi_year_pattern_is_suppressed_whole(tmp_path: Path) -> None:
    keys = make_keys(tmp_path)
    con = connect_encrypted(tmp_path / "w.duckdb", keys.warehouse_key_hex(),
                            temp_dir=tmp_path / "tmp")
    make_student_year(con, 300, years=2)
    first, second = con.execute(
        "SELECT list(gender ORDER BY academic_year) FROM analytics.student_year "
        "WHERE person_id = 'P000000001'").fetchone()[0]  # type: ignore[index]
    other = next(g for g in ("F", "M", "X") if g != first)
    # P1 changes gender between years: each of its rows sits in a class of dozens of people,
    # but no one else has the pair (first, other): the pattern alone picks P1 out.
    con.execute("UPDATE analytics.student_year SET gender = ? WHERE person_id = 'P000000001' "
                "AND academic_year = (SELECT max(academic_year) FROM analytics.student_year)",
                [other])
    assert second != other or first != other
    req = request(request_id="R-PAT", variables=["person_id", "academic_year", "gender",
                                                  "cte_participant"])
    result = deidentify.build_extract(con, req, keys, tmp_path / "out", k=11, now=NOW,
                                      earlier_extracts={})
    table = deidentify.open_extract(result.package_path, keys=keys, now=NOW,
                                    out_dir=tmp_path / "open").table()
    patterns: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in table.to_pylist():
        patterns[row["pseudonym_id"]].append((row["academic_year"], row["gender"]))
    people_per_pattern: dict[tuple[tuple[str, str], ...], int] = defaultdict(int)
    for rows in patterns.values():
        people_per_pattern[tuple(sorted(rows))] += 1
    assert min(people_per_pattern.values()) >= 11  # every released pattern is shared by k
    assert result.suppressed_rows == 2 and result.rows == 598
    assert result.disclosure is not None and result.disclosure.suppressed_rows == 2
    con.close()


