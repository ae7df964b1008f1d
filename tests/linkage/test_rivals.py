"""A college or CCGI record has at most one K-12 person: pairs weighed against their rivals."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from linkage.rivals import (
    PI_MAX,
    RIVALS_FLOOR,
    SOURCES,
    STRATUM_NAMES,
    UnitStrata,
    has_rivals,
    in_band_or_above,
    person_probabilities,
    scoring_floor,
    weigh_rivals,
)

STRATUM = "college born within K-12"
PRIOR = 1e-3  # odds 1/999: a pair at 0.8 carries a Bayes factor of about 4,000
THRESHOLD = 0.9


def _units(k12: int, college: int) -> UnitStrata:
    """Unit ids 1..k12 are K-12 records, the next ``college`` ids college records."""
    source = np.array([0] + [SOURCES.index("calpads")] * k12
                      + [SOURCES.index("college")] * college, dtype=np.int8)
    stratum = np.array([0] * (k12 + 1) + [STRATUM_NAMES.index(STRATUM)] * college,
                       dtype=np.int16)
    return UnitStrata(source, stratum)


def _edges(pairs: list[tuple[int, int, float]]) -> pa.Table:
    return pa.table({"unit_id_l": [a for a, _, _ in pairs], "unit_id_r": [b for _, b, _ in pairs],
                     "match_probability": [p for _, _, p in pairs]})


def _probabilities(table: pa.Table) -> dict[tuple[int, int], float]:
    rows = table.to_pylist()
    return {(r["unit_id_l"], r["unit_id_r"]): r["match_probability"] for r in rows}


def _world(extra: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """100 K-12 records; college records 101-108 confidently linked (pi = 8/10 of the 10)."""
    return [(k, 100 + k, 0.99) for k in range(1, 9)] + extra


def test_a_lone_candidate_rises_and_namesakes_do_not() -> None:
    edges = _edges(_world([(9, 109, 0.8), (10, 110, 0.8), (11, 110, 0.8)]))
    weighed, report = weigh_rivals(edges, _units(100, 10), PRIOR, THRESHOLD)
    p = _probabilities(weighed)
    # w = pi / N * BF = 0.8 / 100 * 3,996 = 32: P = 32 / (0.2 + 32)
    assert p[(9, 109)] == pytest.approx(32 / 32.2, rel=1e-2)
    # two equally good namesakes share the evidence: 32 / (0.2 + 64) < 0.8, kept as scored
    assert p[(10, 110)] == p[(11, 110)] == 0.8
    assert report.strata[STRATUM] == {"records": 10, "pi": 0.8, "raised": 1}
    assert all(p[(k, 100 + k)] >= 0.99 for k in range(1, 9))  # lone as well: risen, never lower


def test_a_record_with_no_candidate_in_the_band_is_weighed_below_it() -> None:
    """Record 109's only candidate scores 0.3 (a compound surname each source kept a different
    part of): weighed, it rises. Record 110 has a candidate in the band (0.8): its rival at 0.4,
    under the band, is not counted against it."""
    edges = _edges(_world([(9, 109, 0.3), (10, 110, 0.8), (11, 110, 0.4)]))
    p = _probabilities(weigh_rivals(edges, _units(100, 10), PRIOR, THRESHOLD, band=0.5)[0])
    # w = 0.8 / 100 * (0.3 / 0.7) / (1 / 999) = 3.42: P = 3.42 / (0.2 + 3.42)
    assert p[(9, 109)] == pytest.approx(3.42 / 3.62, rel=1e-2) and p[(9, 109)] > THRESHOLD
    assert p[(10, 110)] == pytest.approx(32 / 32.2, rel=1e-2)
    assert p[(11, 110)] == 0.4
    # counted, the rival under the band (w = 5.3) holds the band candidate under the threshold
    every = _probabilities(weigh_rivals(edges, _units(100, 10), PRIOR, THRESHOLD)[0])
    assert every[(10, 110)] < THRESHOLD and every[(9, 109)] > THRESHOLD


def test_pairs_under_the_band_are_kept_only_for_rivals() -> None:
    assert scoring_floor(0.5, weighed=True) == RIVALS_FLOOR < 0.5
    assert scoring_floor(0.5, weighed=False) == 0.5  # no rivals: nothing under the band kept
    assert scoring_floor(0.01, weighed=True) == 0.01
    edges = _edges([(1, 101, 0.3), (2, 102, 0.5), (3, 103, 0.95)])
    assert sorted(_probabilities(in_band_or_above(edges, 0.5)).values()) == [0.5, 0.95]
    assert in_band_or_above(edges, 0.3) is edges


def test_records_of_one_k12_person_are_not_rivals() -> None:
    # K-12 records 10 and 11 are one person (a confident K-12 pair): no rivalry. The pair
    # with the person's best evidence rises; clustering reaches 11 through the pair 10-11
    edges = _edges(_world([(10, 11, 0.99), (10, 110, 0.8), (11, 110, 0.7)]))
    p = _probabilities(weigh_rivals(edges, _units(100, 10), PRIOR, THRESHOLD)[0])
    assert p[(10, 110)] > THRESHOLD
    assert p[(11, 110)] == 0.7


def test_a_pair_does_not_borrow_evidence_from_another_record_of_the_person() -> None:
    """Two namesakes born the same day (K-12 records 10 and 11, different SSIDs) joined by a
    confident K-12 pair that the enrolment rules later split: a college record carrying 10's
    SSID (0.999999) and only the name and birth date of 11 (0.8). Its pair with 11 keeps 0.8;
    raised to the person's probability it was clustered with 11 first (greedy, most probable
    first) and refused its own record (50k, profile ``all``)."""
    edges = _edges(_world([(10, 11, 0.95), (10, 110, 0.999999), (11, 110, 0.8)]))
    p = _probabilities(weigh_rivals(edges, _units(100, 10), PRIOR, THRESHOLD)[0])
    assert p[(10, 110)] >= 0.999999
    assert p[(11, 110)] == 0.8


def test_without_evidence_of_pi_nothing_changes() -> None:
    # a stratum none of whose records has a confident K-12 pair: pi unknown, pairs as scored
    edges = _edges([(9, 109, 0.8)])
    weighed, report = weigh_rivals(edges, _units(100, 10), PRIOR, THRESHOLD)
    assert _probabilities(weighed) == {(9, 109): 0.8}
    assert report.strata[STRATUM]["pi"] == 0.0
    # a record with no stratum (it names no school) is left as scored even when others rise
    units = _units(100, 10)
    units.stratum[109] = 0
    p = _probabilities(weigh_rivals(_edges(_world([(9, 109, 0.8)])), units, PRIOR,
                                    THRESHOLD)[0])
    assert p[(9, 109)] == 0.8


def test_rivals_never_lower_a_pair_and_pi_is_capped() -> None:
    edges = _edges(_world([(9, 109, 0.95), (10, 109, 0.95)]))
    p = _probabilities(weigh_rivals(edges, _units(100, 10), PRIOR, THRESHOLD)[0])
    assert p[(9, 109)] == p[(10, 109)] == 0.95
    # every record linked: pi would be 1 and any lone candidate certain; the cap keeps 5 %
    certain = [(k, 100 + k, 0.99) for k in range(1, 11)]
    weighed, report = weigh_rivals(_edges(certain), _units(100, 10), PRIOR, THRESHOLD)
    assert report.strata[STRATUM]["pi"] == PI_MAX


def test_person_probabilities_sum_to_at_most_one_per_record() -> None:
    rng = np.random.default_rng(3)
    record = rng.integers(0, 50, 400)
    person = rng.integers(0, 30, 400)
    log_w = rng.normal(0, 3, 400)
    p = person_probabilities(record, person, log_w, np.full(400, 0.7))
    for r in np.unique(record):
        rows = record == r
        # each person's probability sits on its best pair (the rest carry 0)
        per_person = [p[rows][person[rows] == k].max() for k in np.unique(person[rows])]
        assert 0.0 < sum(per_person) <= 1.0 + 1e-9
        for k in np.unique(person[rows]):
            mine = rows & (person == k)
            best = log_w[mine] == log_w[mine].max()
            assert (p[mine][best] > 0).all() and (p[mine][~best] == 0).all()
    assert len(person_probabilities(np.array([], dtype=np.int64), np.array([], dtype=np.int64),
                                    np.array([]), np.array([]))) == 0


def test_a_run_without_k12_or_without_partners_has_no_rivals() -> None:
    assert has_rivals({"calpads": 10, "college": 3})
    assert not has_rivals({"college": 8_000_000})
    assert not has_rivals({"calpads": 10, "ccgi": 0})
