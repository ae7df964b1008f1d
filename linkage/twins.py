"""The twin rule: same surname and birth date but a different first name are two people.

Different first name means: not equal, not nickname-equivalent, no shared first/middle
token, Jaro-Winkler below 0.85 and more than one keystroke apart (so a typo such as JOHN /
JOHM or SMANTHA / SAMANTHA is not a "twin"), not the same first three letters and neither a
prefix of the other (a diminutive the nickname table lacks, GABY / GABRIELA, or the first part
of a two-part given name, YI / YICHEN, is left to the model rather than forbidden), and not
the start of the other with one letter dropped or two swapped (DNI / DANIELA, OJHN / JOHNPAUL:
at 50,000 students such typed slips were 13 of the 30 pairs the rule refused wrongly). Records
that carry the same SSID are exempt (the state id says they are one student), and so are
records whose SSIDs are one keying error apart (a transposition, or one wrong digit that is
not the last: consecutive ids given to twins enrolled together differ in the last digit).
Nor are two names that are each one keystroke from the first name of a third record in
their component (MARIS and MAIA, with MARIA's own record there): two slips of one name, as
the birth-date rule does not bridge two dates a third record explains.
The pairs found become cannot-links for the clustering (a clerical "match" decision overrides one).

Only pairs inside one component of the confident graph are looked for: a pair in two
components can never clash in the clustering. Across all identities the pairs grow with the
square of the state (every same-surname, same-birth-date pair of names): at 10.6 million
records that list took the link process past 23.9 GB.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from core import tables
from linkage.clustering import ConfidentGraph

TWIN_FIRST_NAME_JW = 0.85
# First names sharing this many leading letters may be a name and its diminutive: not twins.
TWIN_PREFIX = 3


def _slip_of_start(short: str, long: str) -> str:
    """SQL: ``short`` is the start of the longer name ``long`` with one letter dropped (DNI,
    DANIELA) or two neighbours swapped (OJHN, JOHNPAUL). A substituted letter is not enough
    (AVA / AVERY are two names)."""
    n = f"length({short})"
    return f"""({n} >= 3 AND length({long}) > {n} AND (
        damerau_levenshtein({short}, left({long}, {n} + 1)) = 1
        OR (damerau_levenshtein({short}, left({long}, {n})) = 1
            AND levenshtein({short}, left({long}, {n})) = 2)))"""


_TWINS_SQL = f"""
        WITH named AS (
            SELECT n.label, i.unit_id, i.dob, i.last_tokens, i.first_name, i.first_nick,
                   i.given_tokens, i.ssid
            FROM _link_twin_nodes n JOIN {tables.IDENTITIES} i USING (unit_id)
            WHERE i.first_name IS NOT NULL
        ), t AS (
            SELECT label, unit_id, dob, unnest(last_tokens) AS token, first_name, first_nick,
                   given_tokens, ssid
            FROM named WHERE dob IS NOT NULL
        )
        , found AS (
        SELECT DISTINCT a.label, a.unit_id AS a_id, b.unit_id AS b_id,
               a.first_name AS a_first, b.first_name AS b_first
        FROM t a JOIN t b ON a.label = b.label AND a.dob = b.dob AND a.token = b.token
                         AND a.unit_id < b.unit_id
        WHERE a.first_name <> b.first_name
          AND NOT list_has_any(a.first_nick, b.first_nick)
          AND NOT list_has_any(a.given_tokens, b.given_tokens)
          AND jaro_winkler_similarity(a.first_name, b.first_name) < {TWIN_FIRST_NAME_JW}
          -- a diminutive keeps the name's first letters (GABY / GABRIELA, ALEX / ALEJANDRO),
          -- and so does the first part of a given name written as two (YI / YICHEN, JI / JIWOO)
          AND left(a.first_name, {TWIN_PREFIX}) <> left(b.first_name, {TWIN_PREFIX})
          AND NOT starts_with(a.first_name, b.first_name)
          AND NOT starts_with(b.first_name, a.first_name)
          -- one keystroke apart is a typo (SMANTHA / SAMANTHA), not a second child
          AND damerau_levenshtein(a.first_name, b.first_name) > 1
          -- nor is a slip in the start of a longer name (DNI / DANIELA, OJHN / JOHNPAUL)
          AND NOT {_slip_of_start("a.first_name", "b.first_name")}
          AND NOT {_slip_of_start("b.first_name", "a.first_name")}
          AND (a.ssid IS NULL OR b.ssid IS NULL OR (a.ssid <> b.ssid AND NOT (
              -- one keystroke apart (a keying error), except in the last digit only, which is
              -- how consecutive ids handed to twins enrolled together differ
              damerau_levenshtein(a.ssid, b.ssid) = 1
              AND left(a.ssid, -1) <> left(b.ssid, -1))))
        )
        SELECT f.a_id, f.b_id FROM found f
        -- two slips of one name that a third record of the component carries (MARIS and
        -- MAIA, with MARIA): each is one keystroke from it, so they are not two children
        WHERE NOT EXISTS (
            SELECT 1 FROM named c
            WHERE c.label = f.label AND c.unit_id <> f.a_id AND c.unit_id <> f.b_id
              AND damerau_levenshtein(c.first_name, f.a_first) <= 1
              AND damerau_levenshtein(c.first_name, f.b_first) <= 1)
"""


def twin_conflicts(
    con: duckdb.DuckDBPyConnection, graph: ConfidentGraph | None
) -> list[tuple[int, int]]:
    """Cannot-link pairs: twins by the rule above, within one component of ``graph``."""
    if graph is None:
        return []
    nodes = graph.nodes
    con.register("_link_twin_nodes", pa.table({"unit_id": nodes, "label": graph.labels[nodes]}))
    try:
        rows = con.execute(_TWINS_SQL).fetchall()
    finally:
        con.unregister("_link_twin_nodes")
    return [(int(a), int(b)) for a, b in rows]
