"""Name pools: hand-curated, rank-ordered lists per heritage group (``synth/data/names.json``).

Lists are in rough frequency order; a name's weight is Zipf-like (1 / (rank + 2)), which gives
realistic collisions on common names ("José García", "Kevin Nguyen") without a census file.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from synth.weighted import Weighted

WeightedPool = Weighted[str]


def _pool(names: list[str]) -> WeightedPool:
    return Weighted(names, [1.0 / (rank + 2) for rank in range(len(names))])


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


@dataclass(frozen=True)
class NamePools:
    groups: Weighted[Group]

    def pick_group(self, rng: random.Random) -> Group:
        return self.groups.pick(rng)


@lru_cache(maxsize=1)
def load_pools() -> NamePools:
    """Read the packaged name file once."""
    text = resources.files("synth").joinpath("data/names.json").read_text(encoding="utf-8")
    data = json.loads(text)
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
            surname=_pool(g["surname"]),
            double_surname_share=float(g["double_surname_share"]),
            two_given_share=float(g["two_given_share"]),
        ))
        shares.append(float(data["group_shares"][key]))
    return NamePools(Weighted(groups, shares))
