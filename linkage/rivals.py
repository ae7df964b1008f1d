"""One K-12 person per college or CCGI record: each pair weighed against the record's rivals.

Splink scores a pair on its own. A college record and a K-12 student who share a common name
and a birth date one day apart get the same probability whether that student is the record's
only candidate or one of five namesakes. But a college or CCGI record belongs to at most one
K-12 person (who may hold several K-12 records, joined by SSID). Given the pair scores, the
probability that record ``i`` is K-12 person ``C``'s (Bayes, with at most one match):

    P(i is C's) = w_C / ((1 - pi) + sum_k w_k),    w_k = (pi / N) * BF_k

- ``BF_k``: the Bayes factor of the best-scored pair between ``i`` and person ``k`` (the
  match probability's odds divided by the prior's odds: the model's evidence, prior removed);
- ``N``: the K-12 persons (K-12 records joined by the confident K-12 pairs);
- ``pi``: the chance that a record of its stratum has a K-12 person at all, estimated as the
  share of the stratum's records with a confident pair to a K-12 record (an underestimate when
  recall is short, which errs towards leaving pairs as scored), capped at ``PI_MAX``: the
  blocking never guarantees the true person is among the candidates, so no record is taken
  as certain to have one. Strata: :func:`unit_strata`.

A lone candidate rises (the record has to be someone's, and nobody else fits as well); rivals
hold each other down (two namesakes with the same birth date share the evidence). The pair
carrying the record's best evidence for a person may rise to that person's probability; the
record's other pairs with the person keep their own score, and clustering joins their K-12
records through the person's own K-12 pairs. Raising those too manufactured evidence where
the "person" was two namesakes born the same day, joined by a confident K-12 pair that the
enrolment rules then split (50k, profile ``all``: a CCGI record carrying one FRANCISCO
ROMERO's SSID rose to 1.0 with the other's three K-12 records, was clustered with them first
and refused its own). **No pair is lowered:** rivals lowering each other split students
with two SSIDs (two K-12 "persons" until a college record bridges them): at 50k,
second-SSID recall 0.992 -> 0.987 and twins apart 99.86 % -> 99.61 %.

Missing evidence changes nothing: a stratum with no confident pair to a K-12 record (``pi``
unknown), a record without a stratum (it names no school) and a run without K-12 records keep
their pairs as scored. A record with a candidate in the review band is weighed over its pairs
in the band and above: a rival under the band would have held the others down a little, so
this errs towards linking, bounded by the cap. A record with **no** candidate in the band is
weighed over its pairs down to ``RIVALS_FLOOR``, its rivals down there included: a compound
surname of which each source kept a different part (IVAN PEREZ / IVAN HERNANDEZ, same birth
date, same high school) scores 0.2-0.5 on its own and was never weighed. At 50k students
(profile ``all``) the best pair of such a record, naming a school and with one K-12 person
among its candidates down to 0.01, was the true one in 22 of 23 pairs scored 0.2-0.5. Weighing
every record down to the floor instead (the band's lower bound lowered to 0.05) gained 15
pairs and lost 11: a band candidate's rivals under the band, which the model scores far above
their true rate (pairs scored 0.2-0.3 were 3 % true there), held it under the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from core import tables
from linkage.clustering import components

K12 = "calpads"
OTHER_SOURCES = ("college", "ccgi")
SOURCES = ("", K12, *OTHER_SOURCES)  # a unit's source code is its index here
_BIRTH = ("born within K-12", "born outside K-12", "born ?")
# a unit's stratum code is its index here; 0: no stratum (left as scored)
STRATUM_NAMES = ("", *(f"{s} {b}" for s in OTHER_SOURCES for b in _BIRTH))
PI_MAX = 0.95
# the lowest pair a record with no candidate in the review band is weighed over (module doc):
# a lone candidate rises to the threshold 0.9 from about 0.2 (pi 0.95, 50,000 K-12 persons,
# the model's prior), so pairs under 0.05 could not rise and would only be held down
RIVALS_FLOOR = 0.05
_P_MAX = 1.0 - 1e-15  # a probability of exactly 1 has no finite odds


@dataclass
class UnitStrata:
    """Per unit id: its source code (``SOURCES``) and stratum code (``STRATUM_NAMES``)."""

    source: np.ndarray
    stratum: np.ndarray


@dataclass
class RivalsReport:
    """What weighing rivals did, per stratum (the run summary's ``rivals``)."""

    k12_persons: int = 0
    strata: dict[str, dict[str, float]] = field(default_factory=dict)


def has_rivals(records_by_source: dict[str, int]) -> bool:
    """Whether a run holds K-12 records and records of a source weighed against them."""
    return bool(records_by_source.get(K12)) and any(
        records_by_source.get(source) for source in OTHER_SOURCES)


def unit_strata(con: duckdb.DuckDBPyConnection, max_unit_id: int) -> UnitStrata:
    """Source and ``pi`` stratum of every unit id (0 for ids no identity holds).

    Only a college or CCGI record that names a school it came from has a stratum: its
    source and whether its birth year lies within the K-12 records' (adults who never were
    in K-12 sit outside it; ``born ?`` without a birth date), each stratum's ``pi`` measured on
    its own records. A record that names no school is left as scored: nothing on it says it
    was in a school here, and at 50k students four in fourteen of the lone candidates such
    records would have been raised to were college-only adults (against ten in 150 overall)."""
    span = con.execute(f"""SELECT min(birth_year), max(birth_year) FROM {tables.IDENTITIES}
        WHERE source_system = '{K12}'""").fetchone()
    low, high = (span[0], span[1]) if span and span[0] is not None else (None, None)
    source_code = " ".join(f"WHEN '{name}' THEN {code}"
                           for code, name in enumerate(SOURCES) if name)
    rows = con.execute(f"""
        WITH coded AS (
            SELECT unit_id, CASE source_system {source_code} ELSE 0 END AS source,
                   coalesce(len(reported_schools), 0) > 0 AS names_school,
                   CASE WHEN birth_year IS NULL OR ?::INTEGER IS NULL THEN 2
                        WHEN birth_year BETWEEN ? AND ? THEN 0 ELSE 1 END AS birth
            FROM {tables.IDENTITIES})
        SELECT unit_id, source,
               CASE WHEN source >= 2 AND names_school
                    THEN (source - 2) * {len(_BIRTH)} + birth + 1 ELSE 0 END AS stratum
        FROM coded""", [low, low, high]).fetchnumpy()
    units = rows["unit_id"].astype(np.int64)
    source = np.zeros(max_unit_id + 1, dtype=np.int8)
    source[units] = rows["source"]
    stratum = np.zeros(max_unit_id + 1, dtype=np.int16)
    stratum[units] = rows["stratum"]
    return UnitStrata(source, stratum)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-300, _P_MAX)
    return np.log(p) - np.log1p(-p)


def _group_starts(keys: list[np.ndarray]) -> np.ndarray:
    """Start positions of the runs of equal keys in arrays already sorted by them."""
    change = np.zeros(len(keys[0]), dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


def person_probabilities(record: np.ndarray, person: np.ndarray, log_w: np.ndarray,
                         pi: np.ndarray) -> np.ndarray:
    """P(record is person's) on the pair carrying the person's best evidence (each pair at
    the best log weight of its record and person), 0 on the record's other pairs with that
    person: the probability a pair may rise to (module doc)."""
    if len(record) == 0:
        return np.empty(0, dtype=np.float64)
    order = np.lexsort((person, record))
    rec_s, per_s, w_s, pi_s = record[order], person[order], log_w[order], pi[order]
    groups = _group_starts([rec_s, per_s])
    best = np.maximum.reduceat(w_s, groups)  # each (record, person): its best pair
    group_rec = rec_s[groups]
    records = _group_starts([group_rec])
    top = np.maximum.reduceat(best, records)
    top_of_group = np.repeat(top, np.diff(np.append(records, len(groups))))
    total = np.add.reduceat(np.exp(best - top_of_group), records)
    # log((1 - pi) + sum w), with sum w = e^top * total
    record_pi = pi_s[groups[records]]
    log_denominator = np.logaddexp(np.log1p(-record_pi), top + np.log(total))
    group_p = np.exp(best - np.repeat(log_denominator, np.diff(np.append(records, len(groups)))))
    sizes = np.diff(np.append(groups, len(order)))
    sorted_p = np.where(w_s == np.repeat(best, sizes), np.repeat(group_p, sizes), 0.0)
    result = np.empty(len(order), dtype=np.float64)
    result[order] = sorted_p
    return result


def scoring_floor(review_lower: float, weighed: bool) -> float:
    """The lowest probability the model keeps a pair at: the review band's lower bound, or
    ``RIVALS_FLOOR`` when rivals are weighed and it is lower (module doc)."""
    return min(review_lower, RIVALS_FLOOR) if weighed else review_lower


def _weighed_rows(prob: np.ndarray, record: np.ndarray, band: float, size: int) -> np.ndarray:
    """Of a record's pairs with K-12 units, those weighed: in the band and above, or every
    one if none is (module doc). Positions into ``prob``."""
    best = np.zeros(size, dtype=np.float64)
    np.maximum.at(best, record, prob)
    return np.flatnonzero((prob >= band) | (best[record] < band))


def weigh_rivals(edges: pa.Table, units: UnitStrata, prior: float, threshold: float,
                 band: float | None = None) -> tuple[pa.Table, RivalsReport]:
    """``edges`` with each college-K-12 and CCGI-K-12 pair's probability raised to what its
    rivals allow (module doc); never lowered. ``band``: the review band's lower bound (None:
    every pair of ``edges`` is weighed); pairs under it count only for records with no pair
    at or above it."""
    report = RivalsReport()
    if edges.num_rows == 0 or not 0.0 < prior < 1.0:
        return edges, report
    left = edges.column("unit_id_l").to_numpy().astype(np.int64)
    right = edges.column("unit_id_r").to_numpy().astype(np.int64)
    prob = edges.column("match_probability").to_numpy().astype(np.float64)
    is_k12 = units.source == SOURCES.index(K12)
    is_other = np.isin(units.source, [SOURCES.index(s) for s in OTHER_SOURCES])
    left_is, right_is = is_other[left] & is_k12[right], is_other[right] & is_k12[left]
    rows = np.flatnonzero(left_is | right_is)
    record = np.where(left_is[rows], left[rows], right[rows])
    if band is not None and len(rows):
        kept = _weighed_rows(prob[rows], record, band, len(units.source))
        rows, record = rows[kept], record[kept]
    if len(rows) == 0:
        return edges, report
    confident_k12 = (prob >= threshold) & is_k12[left] & is_k12[right]
    person = components(len(units.source), left[confident_k12], right[confident_k12])
    n_persons = int(len(np.unique(person[is_k12])))
    report.k12_persons = n_persons
    k12_unit = np.where(left_is[rows], right[rows], left[rows])
    before = prob[rows]
    # pi per stratum: the share of its records with a confident pair to a K-12 record
    names, code = STRATUM_NAMES, units.stratum.astype(np.int64)
    linked = np.zeros(len(code), dtype=bool)
    linked[record[before >= threshold]] = True
    sizes = np.bincount(code, minlength=len(names))
    per_stratum = np.bincount(code, weights=linked, minlength=len(names)) / np.maximum(sizes, 1)
    stratum_pi = np.minimum(PI_MAX, per_stratum)
    stratum_pi[0] = 0.0  # no stratum: left as scored
    pi = stratum_pi[code[record]]
    # a stratum without any confident pair says nothing about how many have a K-12 person
    weighed = np.flatnonzero(pi > 0)
    log_w = (np.log(pi[weighed] / n_persons) + _logit(before[weighed])
             - float(_logit(np.array([prior]))[0]))
    after = before.copy()
    after[weighed] = np.maximum(before[weighed], person_probabilities(
        record[weighed], person[k12_unit[weighed]], log_w, pi[weighed]))
    raised = np.bincount(code[record], weights=(before < threshold) & (after >= threshold),
                         minlength=len(names))
    report.strata = {names[c]: {"records": int(sizes[c]), "pi": round(float(stratum_pi[c]), 4),
                                "raised": int(raised[c])}
                     for c in range(1, len(names)) if sizes[c]}
    adjusted = prob.copy()
    adjusted[rows] = after
    column = pa.array(adjusted, type=edges.schema.field("match_probability").type)
    return edges.set_column(edges.schema.get_field_index("match_probability"),
                            "match_probability", column), report


def in_band_or_above(edges: pa.Table, band: float) -> pa.Table:
    """The pairs at or above the review band's lower bound: what the clustering, the review
    queue and the quality sample see (pairs under it were kept for rivals only)."""
    prob = edges.column("match_probability").to_numpy()
    if len(prob) == 0 or prob.min() >= band:
        return edges
    return edges.filter(pa.array(prob >= band))
