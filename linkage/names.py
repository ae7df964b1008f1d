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


def nickname_forms(first_token: str | None, slip_of: str | None = None) -> list[str]:
    """The name itself plus its canonical forms in the ``nicknames`` table (upper-case, sorted).

    Two first names are nickname-equivalent when these sets intersect: BILL -> {BILL, WILLIAM,
    ...} and WILLIAM -> {WILLIAM, ...} share WILLIAM. The table is many-to-many, so a single
    canonical form would be arbitrary; the set keeps every reading. ``slip_of``: the common
    name a rare one is one keystroke from (:func:`slip_corrections`); its forms are added.
    """
    if not first_token:
        return []
    forms = {first_token}
    forms.update(c.upper() for c in _nicknamer().canonicals_of(first_token.lower()))
    forms.update(names_of(first_token))  # Spanish / Armenian hypocorisms (PEPE -> JOSE)
    if slip_of:  # a rare name one keystroke from this common one (slip_corrections)
        forms.update(nickname_forms(slip_of))
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


# Particles that begin a surname and are never a middle name on their own; Y and E (a
# middle initial) are left out.
_SPLIT_PARTICLES = (SURNAME_PARTICLES - {"Y", "E"}) | {"DELA"}


def joined_surname(value: str | None) -> str | None:
    """A surname with particles kept and spaces removed (DE LA CRUZ -> DELACRUZ): the form in
    which a surname typed across two fields is looked up."""
    text = standard_surname(value)
    return text.replace(" ", "") if text else None


def surname_split_across(middle: str | None, last: str | None, surnames: set[str]) -> bool:
    """Whether a middle-name field holds the first part of the surname: only particles
    (DE / LA CRUZ), or one token that, written before the last name, makes a surname in
    ``surnames`` (joined forms, :func:`joined_surname`) (TORRES / LEAL: TORRESLEAL)."""
    words = (clean(middle) or "").split()
    if not words or not last:
        return False
    if all(w in _SPLIT_PARTICLES for w in words):
        return True
    joined = joined_surname(f"{middle} {last}")
    return len(words) == 1 and joined is not None and joined in surnames


# A first name is read as a slip of a common one when it is rare (a few identities, or
# under 1/500 of the common name's count: a given typo of a name turns up about that often)
# and the common name is at least ten times as frequent among the run's identities (the data
# is the vocabulary, as for joined surnames): KAYY is KAY typed twice, MCIHAEL is MICHAEL.
# Real names near a common one (JOSUE / JOSE) are far more frequent than that.
_SLIP_RATIO = 10
_SLIP_RARE = 3
_SLIP_SHARE = 500
_SLIP_MIN_LENGTH = 4


def one_keystroke(a: str, b: str) -> bool:
    """One substitution, insertion, deletion or adjacent transposition apart (not equal)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _same_ending(rare: str, common: str) -> bool:
    """The last letter is not what differs, unless it is doubled (KAYY / KAY): a changed or
    added final letter is how Spanish and Italian names change gender (MARIO / MARIA, LUIS /
    LUISA, DANIEL / DANIELA), which is another person, not a slip."""
    if len(rare) == len(common):
        return rare[-1] == common[-1]
    if len(rare) == len(common) + 1 and rare[:-1] == common:
        return rare[-1] == rare[-2]
    if len(common) == len(rare) + 1 and common[:-1] == rare:
        return common[-1] == common[-2]
    return rare[-1] == common[-1]


def _deletes(name: str) -> set[str]:
    return {name} | {name[:i] + name[i + 1:] for i in range(len(name))}


def slip_corrections(counts: dict[str, int]) -> dict[str, str]:
    """Rare first names -> the common name they are one keystroke from (``counts``: first
    name -> identities holding it). Of several candidates the most common wins; a name with
    no candidate at least ``_SLIP_RATIO`` times as common is left alone. Candidates are found
    through shared one-letter deletions (symmetric-delete), so the cost is linear in the
    number of distinct names."""
    by_delete: dict[str, list[str]] = {}
    for name, n in counts.items():
        if n >= _SLIP_RATIO and len(name) >= _SLIP_MIN_LENGTH - 1:
            for key in _deletes(name):
                by_delete.setdefault(key, []).append(name)
    found: dict[str, str] = {}
    for name, n in counts.items():
        if len(name) < _SLIP_MIN_LENGTH:
            continue
        best: tuple[int, str] | None = None
        for key in _deletes(name):
            for common in by_delete.get(key, ()):
                seen = counts[common]
                rare = n <= _SLIP_RARE or n * _SLIP_SHARE <= seen
                if (rare and seen >= _SLIP_RATIO * max(n, 1) and one_keystroke(name, common)
                        and _same_ending(name, common)
                        and (best is None or (seen, common) > best)):
                    best = (seen, common)
        if best is not None:
            found[name] = best[1]
    return found
