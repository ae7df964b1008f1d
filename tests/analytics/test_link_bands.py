"""Error bands on published rates and the published linkage quality (issue 28 items 2-3):
the band comes from the rate as shown and the link's estimated precision / recall, never from
a true count; a suppressed rate has no band; every count behind the quality figures leaves
through the egress gate, and a domain the gate hides shows no figure."""

from __future__ import annotations

import csv
import io

import duckdb
import pytest

from analytics.link_quality import (
    QUALITY_DDL,
    LinkQuality,
    band_domain,
    bias_band,
    released_quality_rows,
)
from analytics.warehouse_checks import audit_quality
from core.tables import LINK_QUALITY
from tests.api_support import LEAS, ApiEnv

Q = LinkQuality(0.99, 0.97, 1.0, 0.95, 0.90, 0.98)


def _standard(value: object) -> bool:
    return value is None or (isinstance(value, int) and value % 5 == 0 and value >= 15)


def test_the_band_is_the_rate_corrected_by_the_link_errors() -> None:
    low, high = bias_band(0.5, Q) or (None, None)
    assert low == round(0.5 * 0.97 / 0.98, 4) and high == round(0.5 * 1.0 / 0.90, 4)
    assert low is not None and high is not None and low <= 0.5 <= high
    assert bias_band(0.99, Q) == (round(0.99 * 0.97 / 0.98, 4), 1.0)  # capped at 1
    assert bias_band(None, Q) is None  # a suppressed rate has no band
    assert bias_band(0.5, None) is None  # quality not estimated: no band, not a zero one


def test_only_rates_that_need_a_cross_agency_link_get_a_band() -> None:
    assert band_domain("hs_graduate", "0161119", "all", "all") == []
    assert band_domain("cc_enrolled_within_1yr", "STATE", "all", "all") == [
        ("calpads-college", "all", "all")]
    assert band_domain("cc_enrolled_within_1yr", "0161119", "race_ethnicity", "asian") == [
        ("calpads-college", "ethnicity", "asian"), ("calpads-college", "partner", "0161119"),
        ("calpads-college", "all", "all")]
    assert band_domain("fafsa_or_cadaa_completed", "STATE", "all", "all")[0][0] == \
        "calpads-ccgi"


def test_released_quality_gates_the_counts_and_hides_small_domains() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA mdm")
    con.execute(f"""CREATE TABLE {LINK_QUALITY} (run_id VARCHAR, source_pair VARCHAR,
        dimension VARCHAR, value VARCHAR, linked_pairs BIGINT, unlinked_frame_pairs BIGINT,
        reviewed_pairs BIGINT, precision DOUBLE, precision_low DOUBLE, precision_high DOUBLE,
        recall DOUBLE, recall_low DOUBLE, recall_high DOUBLE, estimated_at TIMESTAMP)""")
    con.executemany(f"INSERT INTO {LINK_QUALITY} VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,now())", [
        ("r", "all", "all", "all", 2708, 3866, 400, 1.0, .95, 1.0, .99, .95, .998),
        ("r", "all", "partner", "X", 6, 40, 3, 1.0, .5, 1.0, 1.0, .4, 1.0)])
    rows = {r[3]: r for r in released_quality_rows(con, 11)}
    big, small = rows["all"], rows["X"]
    assert _standard(big[4]) and abs(big[4] - 2708) <= 4 and big[6] == 1.0 and not big[12]
    assert small[4] is None and small[12] is True and small[6:12] == (None,) * 6
    assert small[13] == "count_below_min"


def test_the_api_and_the_page_publish_quality_through_the_gate(env: ApiEnv) -> None:
    page = env.client.get("/v1/linkage-quality")
    assert page.status_code == 200, page.text
    rows = {(r["source_pair"], r["dimension"], r["value"]): r for r in page.json()["data"]}
    for row in rows.values():
        assert _standard(row["linked_pairs"]) and _standard(row["reviewed_pairs"]), row
    exact = rows[("calpads-college", "partner", LEAS[0])]
    assert exact["linked_pairs"] in (120, 125)  # stored as 123 (no rule): gated on the way out
    small = rows[("all", "partner", LEAS[1])]
    assert small["suppressed"] and small["precision"] is None and small["recall"] is None
    html = env.client.get("/portal/public/linkage-quality")
    assert html.status_code == 200 and "Linkage quality" in html.text
    assert "99.50%" in html.text  # overall recall, with its interval
    assert "suppressed" in html.text and "<script src=\"http" not in html.text


@pytest.mark.parametrize("where", ["api", "csv"])
def test_no_band_on_a_suppressed_rate_and_bands_from_the_shown_rate(env: ApiEnv,
                                                                    where: str) -> None:
    if where == "api":
        rows = env.client.get("/v1/aggregates?limit=1000").json()["data"]
    else:
        text = env.client.get("/portal/public/aggregates.csv?metric=*&group=*").text
        rows = list(csv.DictReader(io.StringIO(text.partition("\n")[2])))
    assert rows
    banded = 0
    for row in rows:
        low, high = row["link_band_low"], row["link_band_high"]
        if where == "csv":
            low, high = (float(low) if low else None), (float(high) if high else None)
        # suppressed, or hidden by the gate on the way out (an old snapshot's exact count)
        suppressed = row["suppressed"] in (True, "True") or row["rate"] in (None, "")
        if suppressed or row["metric"] != "cc_enrolled_within_1yr":
            assert low is None and high is None, row
            continue
        rate = float(row["rate"])
        # the shown rate (rounded counts), the LEA's estimate where published, else the link's
        q = (LinkQuality(0.99, 0.9, 1.0, 0.9, 0.8, 0.97) if row["reporting_lea"] == LEAS[0]
             else LinkQuality(0.998, 0.95, 1.0, 0.98, 0.90, 0.99))
        assert (low, high) == bias_band(rate, q), row
        banded += 1
    assert banded


def test_a_snapshot_without_quality_has_no_bands(env: ApiEnv) -> None:
    con = duckdb.connect(str(env.settings.serving_path))
    con.execute("DROP TABLE linkage_quality")
    con.close()
    env.client.app.state.services.serving.close()  # type: ignore[attr-defined]
    rows = env.client.get("/v1/aggregates?limit=1000").json()["data"]
    assert rows and all(r["link_band_low"] is None for r in rows)
    assert env.client.get("/v1/linkage-quality").json()["data"] == []


def test_the_snapshot_check_audits_the_quality_table() -> None:
    con = duckdb.connect()
    assert audit_quality(con, 11) == 0  # a snapshot from before linkage quality
    con.execute(QUALITY_DDL)
    ok = ("r", "all", "all", "all", 2705, 400, 1.0, .95, 1.0, .99, .95, 1.0, False, None)
    hidden = ("r", "all", "partner", "X", None, None, None, None, None, None, None, None,
              True, "count_below_min")
    con.executemany(f"INSERT INTO linkage_quality VALUES ({', '.join('?' * 14)})",
                    [ok, hidden])
    assert audit_quality(con, 11) == 0
    exact = ("r", "all", "partner", "Y", 7, 3, 1.0, .5, 1.0, 1.0, .4, 1.0, False, None)
    leaky = ("r", "all", "partner", "Z", None, None, 1.0, .5, 1.0, 1.0, .4, 1.0, True,
             "count_below_min")
    con.executemany(f"INSERT INTO linkage_quality VALUES ({', '.join('?' * 14)})",
                    [exact, leaky])
    assert audit_quality(con, 11) == 2
