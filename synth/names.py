"""Name pools: hand-curated, rank-ordered lists per heritage group (``synth/data/names.json``).

Lists are in rough frequency order; a name's weight is Zipf-like, 1 / (rank + 3) (surnames
1 / (rank + 15)), which gives realistic collisions on common names ("José García", "Kevin
Nguyen"). Surnames also come, at a per-group share, from the 1990 Census surname list
(``synth/data/census1990_surnames.csv``, weighted by frequency) so that blocks on surname have
a realistic long tail.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from synth.weighted import Weighted

WeightedPool = Weighted[str]


def _pool(names: list[str], offset: int = 3) -> WeightedPool:
    """Zipf-like weights 1 / (rank + offset): a larger offset flattens the head of the list."""
    return Weighted(names, [1.0 / (rank + offset) for rank in range(len(names))])


@dataclass(frozen=True)
class Group:
    """One heritage group: its name pools and how CALPADS would record its race/ethnicity."""

    key: str
    race_ethnicity: str  # evaluation subgroup: hispanic, white, asian, filipino, black, other
    race_codes: tuple[str, ...]
    hispanic: bool
    male: WeightedPool
    female: WeightedPool
    middle_male: WeightedPool
    middle_female: WeightedPool
    surname: WeightedPool
    double_surname_share: float
    two_given_share: float
    census_surnames: WeightedPool | None
    census_surname_share: float

    def pick_surname(self, rng: random.Random) -> str:
        if self.census_surnames is not None and rng.random() < self.census_surname_share:
            return self.census_surnames.pick(rng)
        return self.surname.pick(rng)


@dataclass(frozen=True)
class NamePools:
    groups: Weighted[Group]

    def pick_group(self, rng: random.Random) -> Group:
        return self.groups.pick(rng)


def _census_pools() -> tuple[WeightedPool, WeightedPool]:
    """(all surnames, Spanish-looking surnames) weighted by frequency (rare ones floored)."""
    text = resources.files("synth").joinpath("data/census1990_surnames.csv").read_text(
        encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    everyone: tuple[list[str], list[float]] = ([], [])
    spanish: tuple[list[str], list[float]] = ([], [])
    for row in rows:
        weight = max(float(row["per_100k"]), 0.5)
        targets = [everyone, spanish] if row["spanish"] == "1" else [everyone]
        for names, weights in targets:
            names.append(row["name"])
            weights.append(weight)
    return Weighted(*everyone), Weighted(*spanish)


@lru_cache(maxsize=1)
def load_pools() -> NamePools:
    """Read the packaged name file once."""
    text = resources.files("synth").joinpath("data/names.json").read_text(encoding="utf-8")
    data = json.loads(text)
    census_all, census_spanish = _census_pools()
    groups = []
    shares = []
    for key, g in data["groups"].items():
        groups.append(Group(
            key=key,
            race_ethnicity=g["race_ethnicity"],
            race_codes=tuple(g["race_codes"]),
            hispanic=bool(g["hispanic"]),
            male=_pool(g["male"]),
            female=_pool(g["female"]),
            middle_male=_pool(g["middle_male"]),
            middle_female=_pool(g["middle_female"]),
            surname=_pool(g["surname"], offset=15),
            double_surname_share=float(g["double_surname_share"]),
            two_given_share=float(g["two_given_share"]),
            census_surnames=census_spanish if g["hispanic"] else census_all,
            census_surname_share=float(g.get("census_surname_share", 0.0)),
        ))
        shares.append(float(data["group_shares"][key]))
    return NamePools(Weighted(groups, shares))
