"""Given-name variants the English ``nicknames`` package lacks (``data/given_name_variants.csv``).

The ``nicknames`` table (Carlton Northern's, used for English names) has no Spanish or Armenian
hypocorisms (PEPE for JOSE, CHUY for JESUS, LUPE for GUADALUPE), and no maintained package
on PyPI has them, so they are kept here as data: one row per (name, variant, language). The
generator draws nicknames from it and the linker treats a variant as equal to its name, the
same way both use the ``nicknames`` package.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _rows() -> tuple[tuple[str, str], ...]:
    text = resources.files("core").joinpath("data/given_name_variants.csv").read_text(
        encoding="utf-8")
    return tuple((row["name"].upper(), row["variant"].upper())
                 for row in csv.DictReader(text.splitlines()))


def variants_of(name: str) -> tuple[str, ...]:
    """Upper-case variants of an upper-case given name (JOSE -> JOE, PEPE)."""
    return tuple(sorted(v for n, v in _rows() if n == name))


@lru_cache(maxsize=4096)
def names_of(variant: str) -> tuple[str, ...]:
    """Upper-case given names a variant stands for (ALEX -> ALEJANDRA, ALEJANDRO)."""
    return tuple(sorted(n for n, v in _rows() if v == variant))
