"""Name standardisation: accents, case, punctuation, compound surnames, nicknames.

Runs in Python over the *distinct* raw values only (a few hundred thousand at most), and the
results are joined back in SQL, so the cost does not grow with the number of records.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nicknames import NickNamer
from unidecode import unidecode

from core.name_variants import names_of

_DROP = re.compile(r"['’`.]")  # O'Brien -> OBRIEN, St. -> ST
_SEPARATORS = re.compile(r"[^A-Z]+")  # hyphens, commas, digits, spaces -> one space

# Surname particles are not evidence on their own: "DE LA CRUZ" and "DE LEON" share only "DE".
SURNAME_PARTICLES = frozenset(
    {"DE", "DEL", "LA", "LAS", "LOS", "DA", "DAS", "DO", "DOS", "DI", "DU", "LE", "VAN", "VON",
     "DER", "DEN", "Y", "E"}
)
NAME_SUFFIXES = frozenset({"JR", "SR", "II", "III", "IV", "V"})


def clean(value: str | None) -> str | None:
    """Upper-case ASCII with single spaces; None for empty input."""
    if value is None:
        return None
    text = _SEPARATORS.sub(" ", _DROP.sub("", unidecode(value).upper())).strip()
    return text or None


def surname_tokens(value: str | None) -> list[str]:
    """Tokens of a compound / hyphenated surname, without particles and suffixes.

    "García-López" -> [GARCIA, LOPEZ]; "de la Cruz Jr." -> [CRUZ].
    """
    text = clean(value)
    if text is None:
        return []
    tokens = [t for t in text.split(" ") if t not in NAME_SUFFIXES]
    meaningful = [t for t in tokens if t not in SURNAME_PARTICLES]
    return meaningful or tokens


def standard_surname(value: str | None) -> str | None:
    """Full standardised surname, suffixes dropped: the value compared exactly."""
    text = clean(value)
    if text is None:
        return None
    kept = [t for t in text.split(" ") if t not in NAME_SUFFIXES]
    return " ".join(kept) or text


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


def nickname_forms(first_token: str | None) -> list[str]:
    """The name itself plus its canonical forms in the ``nicknames`` table (upper-case, sorted).

    Two first names are nickname-equivalent when these sets intersect: BILL -> {BILL, WILLIAM,
    ...} and WILLIAM -> {WILLIAM, ...} share WILLIAM. The table is many-to-many, so a single
    canonical form would be arbitrary; the set keeps every reading.
    """
    if not first_token:
        return []
    forms = {first_token}
    forms.update(c.upper() for c in _nicknamer().canonicals_of(first_token.lower()))
    forms.update(names_of(first_token))  # Spanish / Armenian hypocorisms (PEPE -> JOSE)
    return sorted(forms)


# A one-token surname is split only when it is long enough to hold two surnames, each part
# has at least this many letters (PAZ, GIL, REY), and each part is far more common as a
# surname token than the joined form itself: GARCIALOPEZ (a few records) against GARCIA and
# LOPEZ (thousands) is split, WOODWARD (a few times rarer than WOOD or WARD) is not.
_JOINED_MIN_LENGTH = 8
_JOINED_MIN_PART = 3
_JOINED_PART_RATIO = 10


def split_joined(tokens: list[str], token_units: dict[str, int]) -> list[str]:
    """Two surnames written as one (GARCIALOPEZ, as many registration systems store
    compounds) -> their two tokens; anything else unchanged.

    ``token_units`` counts, per surname token, the identities whose surname holds it: the
    data itself is the vocabulary, so no surname list is needed and a new partner's names
    count as soon as they arrive. Of several possible cuts the one whose rarer part is most
    common wins.
    """
    if len(tokens) != 1 or len(tokens[0]) < _JOINED_MIN_LENGTH:
        return tokens
    whole = tokens[0]
    needed = _JOINED_PART_RATIO * max(token_units.get(whole, 0), 1)
    best: tuple[int, list[str]] | None = None
    for cut in range(_JOINED_MIN_PART, len(whole) - _JOINED_MIN_PART + 1):
        left, right = whole[:cut], whole[cut:]
        support = min(token_units.get(left, 0), token_units.get(right, 0))
        if support >= needed and (best is None or support > best[0]):
            best = (support, [left, right])
    return best[1] if best else tokens
