"""Given-name variants the English ``nicknames`` package lacks (``data/given_name_variants.csv``).

The ``nicknames`` table (Carlton Northern's, used for English names) has no Spanish or Armenian
hypocorisms (PEPE for JOSE, CHUY for JESUS, LUPE for GUADALUPE), and no maintained package
on PyPI has them, so they are kept here as data: one row per (name, variant, language). The
generator draws nicknames from it and the linker treats a variant as equal to its name, the
same way both use the ``nicknames`` package.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(name -> its variants, variant -> the names it stands for), upper-case, sorted."""
    text = resources.files("core").joinpath("data/given_name_variants.csv").read_text(
        encoding="utf-8")
    by_name: dict[str, set[str]] = defaultdict(set)
    by_variant: dict[str, set[str]] = defaultdict(set)
    for row in csv.DictReader(text.splitlines()):
        name, variant = row["name"].upper(), row["variant"].upper()
        by_name[name].add(variant)
        by_variant[variant].add(name)
    return ({k: tuple(sorted(v)) for k, v in by_name.items()},
            {k: tuple(sorted(v)) for k, v in by_variant.items()})


def variants_of(name: str) -> tuple[str, ...]:
    """Upper-case variants of an upper-case given name (JOSE -> JOE, PEPE)."""
    return _tables()[0].get(name, ())


def names_of(variant: str) -> tuple[str, ...]:
    """Upper-case given names a variant stands for (ALEX -> ALEJANDRA, ALEJANDRO)."""
    return _tables()[1].get(variant, ())
