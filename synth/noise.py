"""Agency-to-agency identity noise: how one person's name and birth date drift between partners.

Each partner keeps its own copy of a person (one per LEA, college, CCGI account). Noise is drawn
once per copy, so a copy is consistent across every file and year of that partner, the way a
student information system keeps one record per student. Every change made is tagged; the tags
go to the truth file (column ``noise``) so evaluations and tests can measure the rates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from nicknames import NickNamer
from pydantic import BaseModel, Field
from unidecode import unidecode

from core.name_variants import variants_of


def _rate(default: float, description: str) -> float:
    """A probability field with its documentation."""
    result: float = Field(default=default, ge=0, le=1, description=description)
    return result


class NoiseRates(BaseModel):
    """Probabilities of each kind of identity noise. Defaults aim at what linkage meets in practice.

    Per-copy rates apply independently to each partner's copy of a person; "among ..." rates
    apply only when the condition holds (e.g. the name has accents). Population anomalies
    (twins, two SSIDs, name collisions) are shares of K-12 students.
    """

    typo: float = _rate(0.03, "one character edit in first or last name")
    nickname: float = _rate(0.06, "first name recorded as a common nickname (when one exists)")
    accent_dropped: float = _rate(0.5, "among names with accents: recorded in plain ASCII")
    punctuation_dropped: float = _rate(
        0.3, "among names with an apostrophe, hyphen or period: those removed")
    double_surname_variant: float = _rate(
        0.6, "among double surnames: recorded as one surname, hyphenated or joined")
    compound_given_joined: float = _rate(
        0.3, "among two-part first names (Jia Hui, Min-jun, John Paul): written as one word")
    middle_in_first: float = _rate(
        0.04, "among people with a middle name: middle folded into the first name")
    name_swap: float = _rate(0.01, "first and last name swapped")
    dob_day_month_swap: float = _rate(
        0.015, "among birth days <= 12 (and != month): day and month swapped")
    dob_typo: float = _rate(0.005, "birth day off by one (or set to 15)")
    missing_dob: float = _rate(0.01, "birth date left blank")
    missing_gender: float = _rate(0.02, "gender left blank")
    ssid_typo: float = _rate(
        0.005, "college and CCGI copies carrying an SSID: two adjacent digits transposed")
    second_ssid: float = _rate(
        0.01, "K-12 students given a second SSID by the next LEA they move to (a MID)")
    twins: float = _rate(0.02, "K-12 students who are one of a twin pair (surname, DOB, LEA)")
    name_collision: float = _rate(
        0.01, "K-12 students sharing first + last name and birth year with another student")
    # Self-reported college copies (CCCApply: the applicant types their own name and birth
    # date, and may give a preferred name). Rates are assumptions: no published figures.
    preferred_name: float = _rate(
        0.08, "college copies: first name given as a preferred name (a nickname, when one "
        "exists)")
    given_names_in_first: float = _rate(
        0.1, "college copies of people with a middle name: both given names typed in the "
        "first-name field")
    surname_split_fields: float = _rate(
        0.3, "college copies of people with two surnames or a particle surname (De Leon): "
        "the first part typed in the middle-name field")
    first_letter_transposition: float = _rate(
        0.01, "college copies: the first two letters of the first or last name swapped")
    dob_year_off: float = _rate(0.01, "college copies: birth year typed one off")


@dataclass(frozen=True, slots=True)
class TrueIdentity:
    """A person as they really are (the truth the noise starts from)."""

    first: str
    middle: str
    surname1: str
    surname2: str  # second (maternal) surname, "" when none
    birth: date
    gender: str  # M / F / X


@dataclass(frozen=True)
class RecordedIdentity:
    """A person as one partner recorded them."""

    first: str
    middle: str
    last: str
    birth: str  # CCYYMMDD or ""
    gender: str
    noise: str  # ";"-joined tags of the noise applied, "" when clean


_KEYBOARD_NEIGHBOURS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    return NickNamer()


_SHORT_NICKNAMES = frozenset({"al", "ed", "jo", "bo", "di", "vi", "cy", "mo", "ty"})


@lru_cache(maxsize=65536)  # asked per recorded copy; the given names are a few thousand
def nicknames_for(first: str) -> tuple[str, ...]:
    """Nicknames of a given name, capitalised, in a fixed order (deterministic choices)."""
    key = unidecode(first).lower()
    found = set(_nicknamer().nicknames_of(key)) if " " not in key else set()
    # two-letter entries are mostly initials-like noise ("ry"); keep the real short nicknames
    result = {n.capitalize() for n in found if len(n) > 2 or n in _SHORT_NICKNAMES}
    result.update(v.capitalize() for v in variants_of(key.upper()))
    return tuple(sorted(result))


# unidecode is pure and slow (~20 us a name); the names recorded are a few thousand distinct
_plain = lru_cache(maxsize=65536)(unidecode)


def _typo(name: str, rng: random.Random) -> str:
    if len(name) < 3:
        return name + name[-1:].lower()
    i = rng.randrange(1, len(name))  # keep the initial: most typos are not in the first letter
    kind = rng.randrange(4)
    ch = name[i]
    if kind == 0 and ch.lower() in _KEYBOARD_NEIGHBOURS:
        sub = rng.choice(_KEYBOARD_NEIGHBOURS[ch.lower()])
        return name[:i] + (sub.upper() if ch.isupper() else sub) + name[i + 1:]
    if kind == 1:
        return name[:i] + name[i + 1:]
    if kind == 2 and i + 1 < len(name):
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    return name[:i] + ch + name[i:]


def _drop_punctuation(name: str) -> str:
    return name.replace("'", "").replace("-", " ").replace(".", "")


def _ccyymmdd(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def record(
    person: TrueIdentity, rates: NoiseRates, rng: random.Random, upper: bool = False
) -> RecordedIdentity:
    """Draw one partner's copy of ``person`` with noise at ``rates``; ``upper``: all-caps system."""
    tags: list[str] = []
    first, middle = person.first, person.middle
    last = person.surname1
    if person.surname2:
        last = f"{person.surname1} {person.surname2}"
        if rng.random() < rates.double_surname_variant:
            variant = rng.choice(("first_only", "first_only", "hyphen", "joined", "second_only"))
            last = {
                "first_only": person.surname1,
                "hyphen": f"{person.surname1}-{person.surname2}",
                "joined": f"{person.surname1}{person.surname2}".replace(" ", ""),
                "second_only": person.surname2,
            }[variant]
            tags.append(f"surname_{variant}")
    if rng.random() < rates.nickname:
        options = nicknames_for(first)
        if options:
            first = rng.choice(options)
            tags.append("nickname")
    if middle and rng.random() < rates.middle_in_first:
        first, middle = f"{first} {middle}", ""
        tags.append("middle_in_first")
    if rng.random() < rates.typo:
        if rng.random() < 0.5:
            first = _typo(first, rng)
        else:
            last = _typo(last, rng)
        tags.append("typo")
    compound = (" " in first or "-" in first) and "middle_in_first" not in tags
    if compound and rng.random() < rates.compound_given_joined:
        first = first.replace(" ", "").replace("-", "").capitalize()
        tags.append("compound_given_joined")
    full = first + middle + last
    if not full.isascii() and rng.random() < rates.accent_dropped:
        first, middle, last = _plain(first), _plain(middle), _plain(last)
        tags.append("accent_dropped")
    if ("'" in full or "-" in full or "." in full) and rng.random() < rates.punctuation_dropped:
        first, middle, last = _drop_punctuation(first), _drop_punctuation(middle), (
            _drop_punctuation(last)
        )
        tags.append("punctuation_dropped")
    if rng.random() < rates.name_swap:
        first, last = last, first
        tags.append("name_swap")

    birth = person.birth
    birth_text = _ccyymmdd(birth)
    if birth.day <= 12 and birth.day != birth.month and rng.random() < rates.dob_day_month_swap:
        birth_text = f"{birth.year:04d}{birth.day:02d}{birth.month:02d}"
        tags.append("dob_swap")
    if rng.random() < rates.dob_typo:
        day = birth.day + rng.choice((-1, 1)) if 1 < birth.day < 28 else 15
        birth_text = birth_text[:6] + f"{day:02d}"
        tags.append("dob_typo")
    if rng.random() < rates.missing_dob:
        birth_text = ""
        tags.append("missing_dob")
    gender = person.gender
    if rng.random() < rates.missing_gender:
        gender = ""
        tags.append("missing_gender")
    if upper:
        first, middle, last = first.upper(), middle.upper(), last.upper()
    return RecordedIdentity(first, middle, last, birth_text, gender, ";".join(tags))


_PARTICLES = ("De La ", "De Los ", "De ", "Del ", "Dela ", "Van der ", "Van ", "Ter-")


def _swap_first_letters(name: str) -> str:
    """aCmpbell: the first two letters typed in the wrong order, each keeping its case."""
    if len(name) < 3 or name[0].lower() == name[1].lower():
        return name
    return name[1].lower() + name[0].upper() + name[2:] if name[0].isupper() else (
        name[1] + name[0] + name[2:])


def self_reported(
    person: TrueIdentity, ident: RecordedIdentity, rates: NoiseRates, rng: random.Random,
    upper: bool = False,
) -> RecordedIdentity:
    """A college copy as the applicant typed it into CCCApply: a preferred name, both given
    names in the first-name field, a compound surname split across the middle and last
    fields, the first two letters swapped, a birth year one off. Drawn after :func:`record`
    from its own random stream, so every other generated value is unchanged."""
    tags = [t for t in ident.noise.split(";") if t]
    first, middle, last, birth = ident.first, ident.middle, ident.last, ident.birth
    swapped = "name_swap" in tags
    typed_whole = swapped or "middle_in_first" in tags
    if not typed_whole and "nickname" not in tags and rng.random() < rates.preferred_name:
        options = nicknames_for(person.first)
        if options:
            first = rng.choice(options)
            tags.append("preferred_name")
    if not swapped and middle and rng.random() < rates.given_names_in_first:
        first, middle = f"{first} {middle}", ""
        tags.append("given_names_in_first")
    if not swapped and rng.random() < rates.surname_split_fields:
        plain = _plain(last).lower()
        parts = last.replace("-", " ").split(" ")
        particle = next((p for p in _PARTICLES if plain.startswith(p.lower())
                         and len(last) > len(p)), None)
        if particle is not None:
            middle, last = last[:len(particle)].strip(" -"), last[len(particle):]
            tags.append("surname_split_fields")
        elif len(parts) == 2:
            middle, last = parts[0], parts[1]
            tags.append("surname_split_fields")
    if rng.random() < rates.first_letter_transposition:
        if rng.random() < 0.5:
            first = _swap_first_letters(first)
        else:
            last = _swap_first_letters(last)
        tags.append("first_letter_transposition")
    if birth and rng.random() < rates.dob_year_off:
        year = int(birth[:4]) + rng.choice((-1, 1))
        day = birth[6:]
        if birth[4:] == "0229":
            day = "28"
        birth = f"{year:04d}{birth[4:6]}{day}"
        tags.append("dob_year_off")
    if upper:
        first, middle, last = first.upper(), middle.upper(), last.upper()
    return RecordedIdentity(first, middle, last, birth, ident.gender, ";".join(tags))


def transpose_digits(ssid: str, rng: random.Random) -> str:
    """Swap two adjacent differing digits (a keying error); unchanged if all digits are equal."""
    spots = [i for i in range(len(ssid) - 1) if ssid[i] != ssid[i + 1]]
    if not spots:
        return ssid
    i = rng.choice(spots)
    return ssid[:i] + ssid[i + 1] + ssid[i] + ssid[i + 2:]


def with_tag(noise: str, tag: str) -> str:
    return f"{noise};{tag}" if noise else tag
