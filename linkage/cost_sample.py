"""When a cost guard counts on a sample of records instead of all of them.

Two guards decide how much work the link does, never a result anyone reads: whether a
custom blocking rule's join is too large to run (``model._costly_rules``) and what share of
the quality sample's near-miss pairs to keep (``quality._near_share``). Counted exactly they
cost 17 s and 9 s at 2M and 8M identities; from ``SAMPLED_FROM`` records they count one
record in ``SAMPLE`` (a hash of the unit id) and scale up, within a few percent.
"""

from __future__ import annotations

SAMPLED_FROM = 1_000_000
SAMPLE = 8


def sample_for(records: int) -> int:
    """One record in how many a cost guard counts (1: all of them)."""
    return SAMPLE if records >= SAMPLED_FROM else 1
