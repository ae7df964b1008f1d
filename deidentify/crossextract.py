"""Which of a request's variables link its extract to earlier extracts (docs/deidentify.md,
"Extracts of different requests").

Two extracts of different requests carry unrelated pseudonyms, but a person's rows still carry
the same values in every variable both extracts hold (an outcome per year, a subgroup flag).
Those shared variables are linkage keys: a researcher holding both extracts could pair people
whose sequence of shared values is unique. The builder treats them as part of the per-person
pattern that at least k people must share; this module only decides which variables they are.

A variable linked to an earlier extract's by definition (``core.catalog.IMPLIES``: a
completer is a participant) is a linkage key too: who completed in one extract can only be a
participant in the other, which narrows the candidates as a shared column does (issue 25).

The caller (fulfilment, ``c2c extract build``, the disclosure preview) reads the earlier
extracts from the governance store and passes them in; nothing here reads it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from core.catalog import related

# Request id -> the variables its individual-level extract released (and the columns its cohort
# filter fixed); None when that is not known, which counts as sharing every variable.
EarlierExtracts = Mapping[str, Collection[str] | None]

# Each request's ids are its own pseudonyms (HMAC under a per-request key): never shared.
_NOT_LINKING = frozenset({"person_id", "pseudonym_id"})


@dataclass(frozen=True)
class CrossExtract:
    """The earlier extracts one build considered and the variables it shares with them."""

    earlier_requests: list[str]  # every earlier extract considered (other requests only)
    unknown_requests: list[str]  # of those, the ones whose variables were not known
    linked_requests: list[str]  # those sharing at least one released variable
    # this extract's variables some earlier extract also holds, or holds one implied by or
    # implying them
    linkage_variables: list[str]


def cross_extract(request_id: str, outputs: Collection[str],
                  earlier: EarlierExtracts) -> CrossExtract:
    """The variables of ``outputs`` (this request's released variables) that an earlier
    extract of another request also holds, or holds a variable implied by or implying them.
    The request itself is skipped: a rebuild replaces its own extract and reuses its
    pseudonyms."""
    mine = [v for v in outputs if v not in _NOT_LINKING]
    others = sorted(r for r in earlier if r != request_id)
    unknown = [r for r in others if earlier[r] is None]
    linkage: set[str] = set()
    linked = []
    for other in others:
        theirs = earlier[other]
        known = set() if theirs is None else {*theirs, *(r for v in theirs for r in related(v))}
        shared = set(mine) if theirs is None else set(mine) & known
        if shared:
            linked.append(other)
            linkage |= shared
    return CrossExtract(earlier_requests=others, unknown_requests=unknown,
                        linked_requests=linked,
                        linkage_variables=[v for v in mine if v in linkage])
