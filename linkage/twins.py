"""The twin rule: same surname and birth date but a different first name are two people.

Different first name means: not equal, not nickname-equivalent, no shared first/middle
token, Jaro-Winkler below 0.85 and more than one keystroke apart (so a typo such as JOHN /
JOHM or SMANTHA / SAMANTHA is not a "twin"), not the same first three letters and neither a
prefix of the other (a diminutive the nickname table lacks, GABY / GABRIELA, or the first part
of a two-part given name, YI / YICHEN, is left to the model rather than forbidden). Records
that carry the same SSID are exempt (the state id says they are one student), and so are
records whose SSIDs are one keying error apart (a transposition, or one wrong digit that is
not the last: consecutive ids given to twins enrolled together differ in the last digit).
The pairs found become cannot-links for the clustering (a clerical "match" decision overrides one).
"""

from __future__ import annotations

import duckdb

from core import tables

TWIN_FIRST_NAME_JW = 0.85
# First names sharing this many leading letters may be a name and its diminutive: not twins.
TWIN_PREFIX = 3


def twin_conflicts(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    rows = con.execute(f"""
        WITH t AS (
            SELECT unit_id, dob, unnest(last_tokens) AS token, first_name, first_nick,
                   given_tokens, ssid
            FROM {tables.IDENTITIES}
            WHERE dob IS NOT NULL AND first_name IS NOT NULL
        )
        SELECT DISTINCT a.unit_id, b.unit_id
        FROM t a JOIN t b ON a.dob = b.dob AND a.token = b.token AND a.unit_id < b.unit_id
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
          AND (a.ssid IS NULL OR b.ssid IS NULL OR (a.ssid <> b.ssid AND NOT (
              -- one keystroke apart (a keying error), except in the last digit only, which is
              -- how consecutive ids handed to twins enrolled together differ
              damerau_levenshtein(a.ssid, b.ssid) = 1
              AND left(a.ssid, -1) <> left(b.ssid, -1))))
    """).fetchall()
    return [(int(a), int(b)) for a, b in rows]
