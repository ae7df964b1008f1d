"""Linkage quality without a truth file: a clerical sample drawn by match weight.

Real runs have no truth file, so precision and recall are estimated the way ONS publishes them
for each linkage: every pair of crosswalk units that could be a match is put in a stratum by
source pair and match-weight band, a sample is drawn from each stratum, a reviewer says
match / non-match through the ordinary clerical review path (``mdm.review_decisions``), and
the share of matches in each stratum is weighted up by the stratum's size.

The pairs (the *frame*):

- linked pairs: every two units given one person id (pairs joined only through other records
  included), banded by the weight of their scored edge;
- not-linked scored pairs: scored at or above the review band's lower threshold but left in
  two persons (the review band, pairs a cannot-link refused);
- near misses: pairs left in two persons and never kept by the scorer that share an SSID, a
  birth date, a surname and birth year, a given and a surname token, or a given name token
  and birth year, banded by how many of those fields agree. Splink issue #793: measured only
  on blocked pairs, recall misses every true match blocking never compared; this frame is
  wider than the blocking rules. A true match that shares none of these is outside the frame
  and is not counted as missed (docs/linkage.md says so beside the figures).

precision = sum over linked strata of N_h p_h / sum of N_h, recall = (matches among linked
pairs) / (matches among linked pairs + matches among not-linked pairs). Per domain (a partner,
a student group) the same sums run over the domain's pairs in each stratum, with the domain's
own sample share where it has reviewed pairs in the stratum and the stratum's share where it
has none (collapsed strata).

Intervals: each stratum's (and domain cell's) match share gets a Jeffreys Beta(k + 1/2,
n - k + 1/2) posterior; 2,000 Monte Carlo draws of the whole estimate give the 2.5 and 97.5
percentiles. With no false link among the reviewed linked pairs the upper precision limit is
1 (no false link observed), likewise for recall, and per stratum the upper limits treat a
stratum whose sample showed no error as having none: the Jeffreys interval's end-point rule
(Brown, Cai & DasGupta 2001) applied stratum by stratum. numpy is already a dependency;
scipy would add nothing here.

The sample is drawn with a random number per pair that changes every run (a hash of the run
id and the pair id), so next year's sample is not the pairs this year's decisions forced:
decisions are labels for the next link (linkage/review.py), and an estimate made on the pairs
the labels fixed would be too good. A pair sampled again keeps its earlier decision.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from core import tables
from core.errors import InputRejected, NotFound
from linkage import cost_sample
from linkage.rates import ethnicity_select
from linkage.review import DECISIONS
from linkage.schema import ensure_schema

STRONG_WEIGHT = 15.0  # linked pairs scored at least this are the surest band
MIDDLE_WEIGHT = 5.0
NEAR_STRONG = 3  # near misses with at least this many agreeing fields
NEAR_MIN = 2  # fewer than this and a pair is left out of the frame (docs/linkage.md)
# Fields of a near miss that agree, of four: SSID; birth date equal, one digit apart, or
# day and month swapped; first names alike (Jaro-Winkler 0.85, a shared given-name token or
# nickname); surnames alike (Jaro-Winkler 0.85 or a shared surname token). Pairs agreeing on
# one field only (a shared birth date, a common first name and year) are almost never the
# same person, and one such stratum of tens of thousands of pairs with no match in its sample
# would put the recall interval's lower end near nothing.
AGREEMENTS = """(coalesce(ua.ssid = ub.ssid, false)::INT
    + coalesce(ua.dob = ub.dob OR levenshtein(ua.dob_str, ub.dob_str) <= 1
               OR (year(ua.dob) = year(ub.dob) AND month(ua.dob) = day(ub.dob)
                   AND day(ua.dob) = month(ub.dob)), false)::INT
    + coalesce(jaro_winkler_similarity(ua.first_name, ub.first_name) >= 0.85
               OR list_has_any(ua.given_tokens, ub.given_tokens)
               OR list_has_any(ua.first_nick, ub.given_tokens)
               OR list_has_any(ub.first_nick, ua.given_tokens), false)::INT
    + coalesce(jaro_winkler_similarity(ua.last_name, ub.last_name) >= 0.85
               OR list_has_any(ua.last_tokens, ub.last_tokens), false)::INT)"""
DEFAULT_SAMPLE_PAIRS = 400
# The near-miss nets join records sharing a birth date and a name token: the pairs grow with
# the square of the records (namesakes born the same day). Past this many join rows the nets
# keep a random share of their pairs (a hash of each unit, _build_frame), each standing for
# 1/share pairs of its stratum: at 10.6M records the full nets spilled 35 GB and ran past
# 20 minutes.
# Five million kept pairs size a stratum to a fraction of a per mille (the clerical sample
# drawn from them is 400 pairs); at 8M identities (105M join rows) 20M kept pairs cost about
# 15 s more of the link for nothing the estimate could show.
NEAR_JOIN_ROWS = 5_000_000
NEAR_SEED = 7919
SPARE = 4  # pairs ranked per pair drawn, about (see _insert_sample)
_UKEY = "source_system || chr(31) || partner_org || chr(31) || source_person_id"
DRAWS = 2000
SEED = 20260
METHOD = ("stratified clerical sample by source pair and match-weight band; 95% interval: "
          "Monte Carlo over per-stratum Jeffreys Beta posteriors (2,000 draws)")
ALL = "all"
NO_K12 = "no_k12_record"
SOURCE_ORDER = ("calpads", "college", "ccgi")

SAMPLE_DDL = f"""CREATE TABLE IF NOT EXISTS {tables.QUALITY_SAMPLE} (
    run_id VARCHAR NOT NULL, pair_id VARCHAR NOT NULL, stratum VARCHAR NOT NULL,
    linked BOOLEAN NOT NULL, match_weight DOUBLE, prn VARCHAR NOT NULL,
    source_system_l VARCHAR, partner_org_l VARCHAR, source_person_id_l VARCHAR,
    source_system_r VARCHAR, partner_org_r VARCHAR, source_person_id_r VARCHAR,
    source_pair VARCHAR NOT NULL, ethnicity VARCHAR NOT NULL, surname VARCHAR NOT NULL,
    PRIMARY KEY (run_id, pair_id))"""
STRATA_DDL = f"""CREATE TABLE IF NOT EXISTS {tables.QUALITY_STRATA} (
    run_id VARCHAR NOT NULL, stratum VARCHAR NOT NULL, linked BOOLEAN NOT NULL,
    domain_pair VARCHAR NOT NULL, dimension VARCHAR NOT NULL, value VARCHAR NOT NULL,
    pairs BIGINT NOT NULL)"""
QUALITY_DDL = f"""CREATE TABLE IF NOT EXISTS {tables.LINK_QUALITY} (
    run_id VARCHAR NOT NULL, source_pair VARCHAR NOT NULL, dimension VARCHAR NOT NULL,
    value VARCHAR NOT NULL, linked_pairs BIGINT NOT NULL, unlinked_frame_pairs BIGINT NOT NULL,
    reviewed_pairs BIGINT NOT NULL, precision DOUBLE, precision_low DOUBLE,
    precision_high DOUBLE, recall DOUBLE, recall_low DOUBLE, recall_high DOUBLE,
    estimated_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"""


def ensure_quality_schema(con: duckdb.DuckDBPyConnection) -> None:
    ensure_schema(con)
    for ddl in (SAMPLE_DDL, STRATA_DDL, QUALITY_DDL):
        con.execute(ddl)


def _order(column: str) -> str:
    return (f"CASE {column} " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in
                                         enumerate(SOURCE_ORDER)) + " ELSE 9 END")


def _build_frame(con: duckdb.DuckDBPyConnection, edges: pa.Table, near_join_rows: int) -> float:
    """``_q_pairs``: every pair of the frame (two unit ids) with its stratum, domain
    attributes and ``weight`` (the pairs it stands for). The pair id (a hash of the two
    records' keys) is made for the sampled pairs only, in ``draw_sample``. Returns the share
    of near-miss pairs kept (1.0: all; :data:`NEAR_JOIN_ROWS`)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _q_units AS
        WITH eth AS ({ethnicity_select(con)})
        SELECT i.unit_id, p.seq AS person, i.source_system, i.partner_org,
               i.source_person_id, i.ssid, i.dob, i.birth_year, i.dob_str, i.first_name,
               i.last_name, substr(i.dob_sym, 5, 4) AS month_day,
               coalesce(i.first_nick, []) AS first_nick,
               coalesce(i.given_tokens, []) AS given_tokens,
               coalesce(i.last_tokens, []) AS last_tokens,
               {_order('i.source_system')} AS k,
               CASE WHEN i.source_system = 'calpads' THEN coalesce(
                   lower(replace(replace(e.ethnicity, 'Two or more races', 'two_or_more'),
                   ' ', '_')), 'not_reported') END AS ethnicity,
               (len(coalesce(i.last_tokens, [])) > 1
                OR regexp_matches(coalesce(i.last_name, ''), '[ -]')) AS compound
        FROM {tables.IDENTITIES} i
        JOIN {tables.CROSSWALK} x USING (source_system, partner_org, source_person_id)
        -- the person as a number: the nets below compare persons on every candidate pair
        JOIN mdm.person_ids p ON p.person_id = x.person_id
        -- equality keys only: with the source_system test in the ON clause as well, DuckDB
        -- left the hash join and this statement took 28.7 of 52 CPU s at 121k records (the
        -- CASE above keeps the ethnicity to CALPADS units; eth has one row per key)
        LEFT JOIN eth e ON e.partner_org = i.partner_org
             AND e.source_person_id = i.source_person_id
    """)
    con.register("_q_edges_in", pa.table({
        "a": edges.column("unit_id_l"), "b": edges.column("unit_id_r"),
        "p": edges.column("match_probability")}))
    con.execute("""CREATE OR REPLACE TEMP TABLE _q_edges AS
        SELECT least(a, b) AS a, greatest(a, b) AS b, max(p) AS p FROM _q_edges_in
        GROUP BY 1, 2""")
    con.unregister("_q_edges_in")
    # Tokens are unnested in the select list, one list at a time: two lateral unnests in the
    # FROM clause (``FROM u, unnest(a), unnest(b)``) cost 5.9 CPU s for 1.5M rows at 1M
    # identities against 0.04 s this way (DuckDB 1.4 plans them as correlated joins).
    # The near-miss nets, each a key of two or more fields hashed to one number, all in one
    # table joined with itself once (seven joins on strings and dates cost most of this stage:
    # 232 of a 596 s link at 8M identities). Each net joins on two of the fields at once (SSID
    # alone is already one person's key): a net on one field (a birth date, a given name and
    # year) grows with the square of the records; at 1 % of the state (121k records) such nets
    # made 25M pairs to test. A hash collision only adds a candidate, which must still agree
    # on two fields below.
    con.execute("""CREATE OR REPLACE TEMP TABLE _q_keys AS
        WITH g2 AS (SELECT unit_id, person, dob, birth_year, month_day, last_tokens,
                           unnest(given_tokens) AS given FROM _q_units),
        g AS (SELECT unit_id, person, dob, given FROM g2),
        l AS (SELECT unit_id, person, dob, unnest(last_tokens) AS last FROM _q_units),
        gl AS (SELECT unit_id, person, dob, birth_year, month_day, given,
                      unnest(last_tokens) AS last FROM g2)
        SELECT unit_id, person, hash(0, ssid) AS key FROM _q_units WHERE ssid IS NOT NULL
        UNION ALL SELECT unit_id, person, hash(1, dob, given) FROM g WHERE dob IS NOT NULL
        UNION ALL SELECT unit_id, person, hash(2, dob, last) FROM l WHERE dob IS NOT NULL
        -- the same given and surname tokens, and the birth year with the month (the day
        -- typed wrong) or with the day (the month), or the month and day (the year). Names
        -- and year alone would grow with the square again (330k pairs at 121k records, 2.6M
        -- at 364k)
        UNION ALL SELECT unit_id, person, hash(3, given, last, birth_year, month(dob))
            FROM gl WHERE dob IS NOT NULL
        UNION ALL SELECT unit_id, person, hash(4, given, last, birth_year, day(dob))
            FROM gl WHERE dob IS NOT NULL
        UNION ALL SELECT unit_id, person, hash(5, given, last, month_day)
            FROM gl WHERE month_day IS NOT NULL""")
    # one side without a birth date: its given and surname tokens against anyone's
    con.execute("""CREATE OR REPLACE TEMP TABLE _q_names AS
        SELECT unit_id, person, dob, hash(given, unnest(last_tokens)) AS name
        FROM (SELECT unit_id, person, dob, last_tokens, unnest(given_tokens) AS given
              FROM _q_units)""")
    share = _near_share(con, near_join_rows)
    # Each unit is kept with chance sqrt(share) (a hash of the unit), so each pair with chance
    # share, whichever net finds it. The cut is on each side's units, before the nets join:
    # a cut on the pair's own hash came after the join, which at 8M identities still made
    # all 105M join rows to keep 5M (26 s). Pairs sharing a unit are kept together more
    # often than by chance; with millions kept, a stratum's size is still known to well
    # under a per mille.
    unit_cut = min(2**64 - 1, int(math.sqrt(share) * (2**64 - 1)))
    cut = " AND ".join(f"hash({NEAR_SEED}, {side}.unit_id) <= {unit_cut}::UBIGINT"
                       for side in ("a", "b"))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _q_near AS
        WITH candidates AS (
            SELECT DISTINCT a.unit_id AS a, b.unit_id AS b FROM _q_keys a
            JOIN _q_keys b ON a.key = b.key
            WHERE a.unit_id < b.unit_id AND a.person <> b.person AND {cut}
            UNION
            SELECT least(a.unit_id, b.unit_id), greatest(a.unit_id, b.unit_id)
            FROM (SELECT * FROM _q_names WHERE dob IS NULL) a JOIN _q_names b
                ON a.name = b.name
            WHERE a.person <> b.person AND {cut})
        SELECT c.a, c.b, """ + AGREEMENTS + """ AS agreements
        FROM candidates c ANTI JOIN _q_edges e USING (a, b)
        JOIN _q_units ua ON ua.unit_id = c.a JOIN _q_units ub ON ub.unit_id = c.b
        WHERE """ + AGREEMENTS + f""" >= {NEAR_MIN}""")
    con.execute("DROP TABLE _q_keys")
    con.execute("DROP TABLE _q_names")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _q_pairs AS
        WITH linked AS (SELECT a.unit_id AS a, b.unit_id AS b, true AS linked,
                               NULL::INT AS agreements, 1.0::DOUBLE AS weight
                        FROM _q_units a JOIN _q_units b
                        ON a.person = b.person AND a.unit_id < b.unit_id),
        scored AS (SELECT e.a, e.b, false AS linked, NULL::INT AS agreements,
                          1.0::DOUBLE AS weight FROM _q_edges e
                   JOIN _q_units ua ON ua.unit_id = e.a JOIN _q_units ub ON ub.unit_id = e.b
                   WHERE ua.person <> ub.person),
        frame AS (SELECT * FROM linked UNION ALL SELECT * FROM scored
                  UNION ALL SELECT a, b, false, agreements, {1.0 / share!r} FROM _q_near)
        , pairs AS (
            SELECT f.a, f.b, f.linked, f.weight,
                   CASE WHEN e.p IS NULL THEN NULL WHEN e.p >= 1 THEN 60.0 WHEN e.p <= 0
                        THEN -60.0 ELSE log2(e.p / (1 - e.p)) END AS match_weight,
                   f.agreements, e.p IS NOT NULL AS scored,
                   CASE WHEN (ua.k, ua.source_system) <= (ub.k, ub.source_system)
                        THEN ua.source_system || '-' || ub.source_system
                        ELSE ub.source_system || '-' || ua.source_system END AS source_pair,
                   ua.partner_org AS partner_org_l, ub.partner_org AS partner_org_r,
                   coalesce(least(ua.ethnicity, ub.ethnicity), '{NO_K12}') AS ethnicity,
                   CASE WHEN ua.compound OR ub.compound THEN 'compound' ELSE 'single' END
                       AS surname
            FROM frame f LEFT JOIN _q_edges e USING (a, b)
            JOIN _q_units ua ON ua.unit_id = f.a JOIN _q_units ub ON ub.unit_id = f.b
        ), banded AS (
            SELECT *, CASE
                WHEN linked AND match_weight >= {STRONG_WEIGHT}
                    THEN 'linked, weight {STRONG_WEIGHT:g}+'
                WHEN linked AND match_weight >= {MIDDLE_WEIGHT}
                    THEN 'linked, weight {MIDDLE_WEIGHT:g}-{STRONG_WEIGHT:g}'
                WHEN linked
                    THEN 'linked, weight under {MIDDLE_WEIGHT:g} or through other records'
                WHEN scored THEN 'not linked, scored in the review band'
                WHEN agreements >= {NEAR_STRONG}
                    THEN 'not linked, near miss, {NEAR_STRONG}+ fields'
                ELSE 'not linked, near miss, {NEAR_MIN} fields' END AS band
            FROM pairs)
        SELECT * EXCLUDE (agreements, scored), source_pair || ': ' || band AS stratum
        FROM banded
    """)
    # band and stratum in the same statement, not ALTER TABLE and UPDATEs of the whole
    # frame: an UPDATE keeps each row's old version until it commits, the suspect of the
    # stage's out-of-memory failure at 8M identities under 4 GB (docs/scale.md)
    con.execute("DROP TABLE _q_near")
    con.execute("DROP TABLE _q_edges")
    return share


def _near_share(con: duckdb.DuckDBPyConnection, near_join_rows: int) -> float:
    """The share of near-miss pairs to keep: 1.0 while the nets' join rows (counted from the
    keys, an upper bound: same-person pairs included) stay within ``near_join_rows``.

    From 1M units the rows are counted on a sample of units (linkage/cost_sample.py) and
    scaled up (two units both kept with chance 1/sample², a unit with
    itself 1/sample): the share only sets how many pairs are kept, and each kept pair stands
    for 1/share whatever the count was (9.4 s of the link at 8M identities, exact)."""
    units = con.execute("SELECT count(*) FROM _q_units").fetchone()
    sample = cost_sample.sample_for(int(units[0]) if units else 0)
    kept = f"hash(unit_id) % {sample} = 0" if sample > 1 else "true"
    counted = con.execute(f"""
        SELECT (SELECT coalesce(sum(n * (n - 1)) * {sample ** 2} + sum(n) * {sample}, 0)
                FROM (SELECT count(*) AS n FROM _q_keys WHERE {kept} GROUP BY key))
             + (SELECT coalesce(sum(u.n * g.n), 0) * {sample ** 2}
                FROM (SELECT name, count(*) AS n FROM _q_names
                      WHERE dob IS NULL AND {kept} GROUP BY name) u
                JOIN (SELECT name, count(*) AS n FROM _q_names WHERE {kept} GROUP BY name) g
                    USING (name))""").fetchone()
    rows = int(counted[0]) if counted and counted[0] is not None else 0
    return 1.0 if rows <= near_join_rows else near_join_rows / rows


def _domains_sql(source: str) -> str:
    """Each pair once per domain it belongs to: (domain_pair, dimension, value), where
    domain_pair is ``all`` or the pair's source pair (bands per link need both)."""
    base = f"(SELECT *, unnest(['{ALL}', source_pair]) AS domain_pair FROM {source})"
    return " UNION ALL ".join([
        f"SELECT *, '{ALL}' AS dimension, '{ALL}' AS value FROM {base}",
        f"SELECT *, 'partner', partner_org_l FROM {base}",
        f"SELECT *, 'partner', partner_org_r FROM {base} WHERE partner_org_r <> partner_org_l",
        f"SELECT *, 'ethnicity', ethnicity FROM {base}",
        f"SELECT *, 'surname', surname FROM {base}",
    ])


def _allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Sample size per stratum in proportion to the square root of its size (what minimises
    the sum of N_h / n_h, the term that widens an interval when a stratum's sample holds no
    match or no non-match), capped at the stratum's size, at least two pairs where there are
    two; what a capped stratum cannot use goes to the others."""
    alloc = {s: min(n, 2) for s, n in sizes.items()}
    left = total - sum(alloc.values())
    while left > 0:
        open_ = {s: n for s, n in sizes.items() if alloc[s] < n}
        if not open_:
            break
        root = sum(n ** 0.5 for n in open_.values())
        given = 0
        for s, n in sorted(open_.items()):
            take = min(n - alloc[s], max(1, int(left * n ** 0.5 / root)), left - given)
            alloc[s] += take
            given += take
            if given >= left:
                break
        left -= given
    return alloc


def draw_sample(con: duckdb.DuckDBPyConnection, run_id: str, edges: pa.Table, *,
                sample_pairs: int = DEFAULT_SAMPLE_PAIRS,
                near_join_rows: int = NEAR_JOIN_ROWS) -> dict[str, Any]:
    """Build the frame of the run's crosswalk, store the stratum sizes per domain and draw
    the clerical sample. Returns {strata, frame_pairs, sample_pairs, near_share}.

    Where the near-miss nets kept a share of their pairs, a near-miss stratum's size is the
    pairs kept over the share (a random share of the stratum, so the sample drawn from the
    kept pairs is still a simple random sample of it); with millions kept the size's own
    error is a small fraction of a percent, which the intervals leave out."""
    if sample_pairs < 1:
        raise InputRejected(f"quality sample size must be at least 1, not {sample_pairs}")
    ensure_quality_schema(con)
    share = _build_frame(con, edges, near_join_rows)
    con.execute(f"DELETE FROM {tables.QUALITY_STRATA} WHERE run_id = ?", [run_id])
    con.execute(f"DELETE FROM {tables.QUALITY_SAMPLE} WHERE run_id = ?", [run_id])
    # counted per stratum and domain attributes first, then spread over the domains: the
    # frame is tens of millions of pairs at the state's size, the counts a few thousand rows
    counts = ("(SELECT stratum, linked, source_pair, partner_org_l, partner_org_r, ethnicity, "
              "surname, sum(weight) AS n FROM _q_pairs GROUP BY ALL)")
    con.execute(f"""INSERT INTO {tables.QUALITY_STRATA}
        SELECT ?, stratum, linked, domain_pair, dimension, value, round(sum(n))
        FROM ({_domains_sql(counts)}) GROUP BY ALL""", [run_id])
    present = {str(s): (int(n), round(float(w))) for s, n, w in con.execute(
        "SELECT stratum, count(*), sum(weight) FROM _q_pairs GROUP BY 1 ORDER BY 1").fetchall()}
    rows = {s: n for s, (n, _) in present.items()}
    alloc = _allocate(rows, sample_pairs)
    _insert_sample(con, run_id, rows, alloc, spare=SPARE)
    drawn = dict(con.execute(f"SELECT stratum, count(*) FROM {tables.QUALITY_SAMPLE} "
                             "WHERE run_id = ? GROUP BY 1", [run_id]).fetchall())
    if any(drawn.get(s, 0) < n for s, n in alloc.items()):  # the hash cut left too few
        con.execute(f"DELETE FROM {tables.QUALITY_SAMPLE} WHERE run_id = ?", [run_id])
        _insert_sample(con, run_id, rows, alloc, spare=None)
    frame = sum(w for _, w in present.values())
    con.execute("DROP TABLE _q_pairs")
    con.execute("DROP TABLE _q_units")
    return {"strata": len(present), "frame_pairs": frame, "sample_pairs": sum(alloc.values()),
            "near_share": share}


def _insert_sample(con: duckdb.DuckDBPyConnection, run_id: str, sizes: dict[str, int],
                   alloc: dict[str, int], *, spare: int | None) -> None:
    """Per stratum, the ``alloc`` pairs first in the run's random order (sha256 of the run id
    and the pair id). Only pairs that pass a cheap hash cut keeping about ``spare`` times the
    stratum's share are ranked (ranking the whole frame by sha256 sorted tens of millions of
    pairs at the state's size); the cut is itself random, so the pairs drawn are still a
    simple random sample of the stratum. ``spare=None`` ranks every pair."""
    top = 2**64 - 1
    cut = {s: top if spare is None else min(top, int(top * (spare * n + 64) / sizes[s]))
           for s, n in alloc.items()}
    con.register("_q_alloc", pa.table({
        "stratum": list(alloc), "n": list(alloc.values()),
        "cut": pa.array([cut[s] for s in alloc], pa.uint64())}))
    con.execute(f"""INSERT INTO {tables.QUALITY_SAMPLE}
        WITH kept AS (
            SELECT p.* FROM _q_pairs p JOIN _q_alloc a USING (stratum)
            WHERE hash(?, p.a, p.b) <= a.cut),
        keyed AS (
            SELECT k.*, least(ua.ukey, ub.ukey) AS key_l, greatest(ua.ukey, ub.ukey) AS key_r
            FROM kept k JOIN (SELECT unit_id, {_UKEY} AS ukey FROM _q_units) ua
                ON ua.unit_id = k.a
            JOIN (SELECT unit_id, {_UKEY} AS ukey FROM _q_units) ub ON ub.unit_id = k.b),
        identified AS (SELECT *, sha256(key_l || chr(31) || key_r)[:24] AS pair_id FROM keyed),
        ranked AS (
            SELECT *, sha256(? || pair_id) AS prn,
                   row_number() OVER (PARTITION BY stratum ORDER BY sha256(? || pair_id))
                       AS rank
            FROM identified)
        SELECT ?, pair_id, stratum, linked, match_weight, prn,
               split_part(key_l, chr(31), 1), split_part(key_l, chr(31), 2),
               split_part(key_l, chr(31), 3), split_part(key_r, chr(31), 1),
               split_part(key_r, chr(31), 2), split_part(key_r, chr(31), 3),
               source_pair, ethnicity, surname
        FROM ranked r JOIN _q_alloc a USING (stratum) WHERE r.rank <= a.n""",
                [run_id, run_id, run_id, run_id])
    con.unregister("_q_alloc")


@dataclass
class QualityRow:
    source_pair: str  # "all" or e.g. "calpads-college"
    dimension: str  # all | partner | ethnicity | surname
    value: str
    linked_pairs: int
    unlinked_frame_pairs: int
    reviewed_pairs: int
    precision: float | None = None
    precision_low: float | None = None
    precision_high: float | None = None
    recall: float | None = None
    recall_low: float | None = None
    recall_high: float | None = None


@dataclass
class QualityEstimate:
    run_id: str
    status: str  # estimated | awaiting_review | no_sample
    sample_pairs: int
    reviewed_pairs: int
    waiting_strata: list[str] = field(default_factory=list)
    method: str = METHOD
    rows: list[QualityRow] = field(default_factory=list)

    def row(self, source_pair: str = ALL, dimension: str = ALL, value: str = ALL
            ) -> QualityRow | None:
        return next((r for r in self.rows if (r.source_pair, r.dimension, r.value)
                     == (source_pair, dimension, value)), None)

    def summary(self) -> dict[str, Any]:
        """The run summary's ``quality`` block: overall, per source pair and per student
        group (per partner only in ``mdm.link_quality``: the run summary copy on disk holds
        no per-LEA cells)."""
        shown = [asdict(r) for r in self.rows if r.dimension != "partner"]
        return {"status": self.status, "sample_pairs": self.sample_pairs,
                "reviewed_pairs": self.reviewed_pairs, "waiting_strata": self.waiting_strata,
                "method": self.method, "estimates": shown}


def _latest_decisions_sql() -> str:
    return (f"SELECT pair_id, decision FROM {tables.REVIEW_DECISIONS} QUALIFY row_number() "
            "OVER (PARTITION BY pair_id ORDER BY decided_at DESC) = 1")


def estimate(con: duckdb.DuckDBPyConnection, run_id: str, *, draws: int = DRAWS,
             seed: int = SEED) -> QualityEstimate:
    """Precision and recall with 95% intervals from the run's reviewed sample; status
    ``awaiting_review`` (no figures) while a stratum has no reviewed pair: an unreviewed
    stratum is missing evidence, never read as "all correct"."""
    ensure_quality_schema(con)
    sample = con.execute(f"SELECT count(*) FROM {tables.QUALITY_SAMPLE} WHERE run_id = ?",
                         [run_id]).fetchone()
    n_sample = int(sample[0]) if sample else 0
    if n_sample == 0:
        return QualityEstimate(run_id, "no_sample", 0, 0)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _q_reviewed AS
        SELECT s.*, d.decision = 'match' AS is_match FROM {tables.QUALITY_SAMPLE} s
        JOIN ({_latest_decisions_sql()}) d USING (pair_id)
        WHERE s.run_id = ? AND d.decision IN {DECISIONS}""", [run_id])
    per_stratum = {str(s): (int(r), int(k)) for s, r, k in con.execute(
        "SELECT stratum, count(*), count(*) FILTER (WHERE is_match) FROM _q_reviewed "
        "GROUP BY 1").fetchall()}
    strata = {str(s): bool(linked) for s, linked in con.execute(
        f"SELECT DISTINCT stratum, linked FROM {tables.QUALITY_STRATA} WHERE run_id = ?",
        [run_id]).fetchall()}
    reviewed = sum(r for r, _ in per_stratum.values())
    waiting = sorted(s for s in strata if s not in per_stratum)
    if waiting:
        con.execute("DROP TABLE _q_reviewed")
        return QualityEstimate(run_id, "awaiting_review", n_sample, reviewed, waiting)
    cells = con.execute(f"""
        WITH pop AS (SELECT stratum, domain_pair, dimension, value, pairs
                     FROM {tables.QUALITY_STRATA} WHERE run_id = ?),
             rev AS (SELECT stratum, domain_pair, dimension, value, count(*) AS r,
                            count(*) FILTER (WHERE is_match) AS k
                     FROM ({_domains_sql('_q_reviewed')}) GROUP BY ALL)
        SELECT pop.domain_pair, pop.dimension, pop.value, pop.stratum, pop.pairs,
               coalesce(rev.r, 0), coalesce(rev.k, 0)
        FROM pop LEFT JOIN rev USING (stratum, domain_pair, dimension, value)
        ORDER BY 1, 2, 3, 4""", [run_id]).fetchall()
    con.execute("DROP TABLE _q_reviewed")
    rng = np.random.default_rng(seed)
    names = sorted(strata)
    index = {s: i for i, s in enumerate(names)}
    r_h = np.array([per_stratum[s][0] for s in names], dtype=float)
    k_h = np.array([per_stratum[s][1] for s in names], dtype=float)
    stratum_draws = rng.beta(k_h[:, None] + 0.5, r_h[:, None] - k_h[:, None] + 0.5,
                             size=(len(names), draws))
    domains: dict[tuple[str, str, str], list[tuple[str, int, int, int]]] = {}
    for pair, dim, value, stratum, n, r, k in cells:
        domains.setdefault((str(pair), str(dim), str(value)), []).append(
            (str(stratum), int(n), int(r), int(k)))
    rows = [_domain_row(key, cells_of, strata, index, per_stratum, stratum_draws, rng)
            for key, cells_of in domains.items()]
    return QualityEstimate(run_id, "estimated", n_sample, reviewed, [], METHOD, rows)


def _domain_row(key: tuple[str, str, str], cells: list[tuple[str, int, int, int]],
                linked_of: dict[str, bool], index: dict[str, int],
                per_stratum: dict[str, tuple[int, int]], stratum_draws: np.ndarray,
                rng: np.random.Generator) -> QualityRow:
    """One domain's estimate. Lower limits come from the Jeffreys draws of every stratum;
    upper limits from draws in which a stratum whose sample showed no error (no false link
    among its linked pairs, no match among its not-linked ones) has none: the Jeffreys
    end-point rule, stratum by stratum. Without it, many error-free strata each drawn a
    little above zero add up to an error the sample never saw, and the upper limit fell below
    the truth (measured: 3 of 25 intervals over five seeds missed from above)."""
    draws = stratum_draws.shape[1]
    matched_l, matched_u = np.zeros(draws), np.zeros(draws)
    best_l, best_u = np.zeros(draws), np.zeros(draws)  # the upper limits' draws
    point_l = point_u = 0.0
    n_l = n_u = reviewed = 0
    for stratum, n, r, k in cells:
        if r > 0:
            share, p = k / r, rng.beta(k + 0.5, r - k + 0.5, size=draws)
        else:  # collapsed: the domain has no reviewed pair here, take the stratum's share
            sr, sk = per_stratum[stratum]
            share, p = sk / sr, stratum_draws[index[stratum]]
        reviewed += r
        if linked_of[stratum]:
            n_l += n
            point_l += n * share
            matched_l += n * p
            best_l += n * (1.0 if share == 1.0 else p)
        else:
            n_u += n
            point_u += n * share
            matched_u += n * p
            best_u += 0.0 if share == 0.0 else n * p
    row = QualityRow(key[0], key[1], key[2], n_l, n_u, reviewed)
    if n_l:
        row.precision = point_l / n_l
        row.precision_low = min(float(np.percentile(matched_l / n_l, 2.5)), row.precision)
        row.precision_high = max(float(np.percentile(best_l / n_l, 97.5)), row.precision)
    if point_l + point_u > 0:
        row.recall = point_l / (point_l + point_u)
        row.recall_low = min(float(np.percentile(_ratio(matched_l, matched_u), 2.5)),
                             row.recall)
        row.recall_high = max(float(np.percentile(_ratio(best_l, best_u), 97.5)), row.recall)
    return row


def _ratio(linked: np.ndarray, missed: np.ndarray) -> np.ndarray:
    total = linked + missed
    return np.divide(linked, total, out=np.ones_like(total), where=total > 0)


def store_estimate(con: duckdb.DuckDBPyConnection, result: QualityEstimate) -> None:
    """Replace the run's rows of ``mdm.link_quality`` (none while awaiting review)."""
    ensure_quality_schema(con)
    con.execute(f"DELETE FROM {tables.LINK_QUALITY} WHERE run_id = ?", [result.run_id])
    if not result.rows:
        return
    names = [f for f in QualityRow.__dataclass_fields__]
    data = {n: [getattr(r, n) for r in result.rows] for n in names}
    con.register("_q_rows", pa.table({"run_id": [result.run_id] * len(result.rows), **data}))
    con.execute(f"INSERT INTO {tables.LINK_QUALITY} (run_id, {', '.join(names)}) "
                f"SELECT run_id, {', '.join(names)} FROM _q_rows")
    con.unregister("_q_rows")


def sample_pairs(con: duckdb.DuckDBPyConnection, run_id: str, *, undecided_only: bool = True
                 ) -> list[tuple[str, str]]:
    """(pair_id, stratum) of the run's sample in review order (the per-run random order, so
    a reviewer who stops half-way leaves a random part undone, not a band)."""
    ensure_quality_schema(con)
    anti = (f"AND pair_id NOT IN (SELECT pair_id FROM {tables.REVIEW_DECISIONS})"
            if undecided_only else "")
    return [(str(p), str(s)) for p, s in con.execute(
        f"SELECT pair_id, stratum FROM {tables.QUALITY_SAMPLE} WHERE run_id = ? {anti} "
        "ORDER BY prn", [run_id]).fetchall()]


def latest_sampled_run(con: duckdb.DuckDBPyConnection) -> str:
    """The run whose sample is the newest (the last link run that drew one)."""
    ensure_quality_schema(con)
    row = con.execute(f"""SELECT s.run_id FROM (SELECT DISTINCT run_id FROM
        {tables.QUALITY_SAMPLE}) s JOIN {tables.LINK_RUNS} r USING (run_id)
        ORDER BY r.started_at DESC LIMIT 1""").fetchone()
    if row is None:
        raise NotFound("no link run has drawn a quality sample yet (run `c2c link`)")
    return str(row[0])


def answer_from_truth(con: duckdb.DuckDBPyConnection, run_id: str, truth_path: Path, *,
                      reviewer: str) -> int:
    """A stand-in reviewer for generated data (tests, the demo): decide every undecided
    sampled pair from the generator's truth file. Never for real runs: real runs have no
    truth file. Returns the decisions recorded."""
    if not truth_path.exists():
        raise NotFound(f"truth file {truth_path} not found")
    ensure_quality_schema(con)
    before = con.execute(f"SELECT count(*) FROM {tables.REVIEW_DECISIONS}").fetchone()
    con.execute(f"""
        INSERT INTO {tables.REVIEW_DECISIONS} (pair_id, source_system_l, partner_org_l,
            source_person_id_l, source_system_r, partner_org_r, source_person_id_r, decision,
            reviewer)
        WITH t AS (SELECT CAST(source_system AS VARCHAR) AS s, CAST(partner_org AS VARCHAR)
                          AS o, CAST(source_person_id AS VARCHAR) AS i,
                          mode(CAST(true_person_id AS VARCHAR)) AS tp
                   FROM read_parquet(?) GROUP BY 1, 2, 3)
        SELECT q.pair_id, q.source_system_l, q.partner_org_l, q.source_person_id_l,
               q.source_system_r, q.partner_org_r, q.source_person_id_r,
               CASE WHEN tl.tp = tr.tp THEN 'match' ELSE 'non_match' END, ?
        FROM {tables.QUALITY_SAMPLE} q
        JOIN t tl ON tl.s = q.source_system_l AND tl.o = q.partner_org_l
             AND tl.i = q.source_person_id_l
        JOIN t tr ON tr.s = q.source_system_r AND tr.o = q.partner_org_r
             AND tr.i = q.source_person_id_r
        WHERE q.run_id = ? AND q.pair_id NOT IN (SELECT pair_id FROM {tables.REVIEW_DECISIONS})
    """, [str(truth_path), reviewer, run_id])
    after = con.execute(f"SELECT count(*) FROM {tables.REVIEW_DECISIONS}").fetchone()
    return int(after[0] if after else 0) - int(before[0] if before else 0)
