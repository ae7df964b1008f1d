"""The linkage tests' synthetic population (tests/link_fixtures.py): same seed, same people."""

from __future__ import annotations

from tests.link_fixtures import make_population


def test_fixture_population_is_deterministic() -> None:
    a = make_population(50, seed=3)
    b = make_population(50, seed=3)
    assert [(p.first, p.last, p.dob) for p in a] == [(p.first, p.last, p.dob) for p in b]
    assert sum(p.twin_of is not None for p in a) == 5
