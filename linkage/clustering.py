"""Clustering with cannot-link constraints (twins, clerical non-matches) and must-links
(clerical matches).

Plain connected components would let one strong chain join two twins through a third record.
Here edges at or above the threshold are added greedily, most probable first, with a
union-find that refuses any union that would put a cannot-link pair in one cluster. A refused
edge is returned so it can go to clerical review.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass
class ClusterResult:
    cluster_of: np.ndarray  # index = unit_id, value = cluster id (the root unit_id)
    refused: list[tuple[int, int, float]]  # edges >= threshold refused by a cannot-link


class _ConstrainedUnionFind:
    def __init__(self, size: int, cannot_link: Iterable[tuple[int, int]]) -> None:
        self.parent = np.arange(size, dtype=np.int64)
        self.rank = np.zeros(size, dtype=np.int8)
        # Only nodes with constraints are tracked: root -> its constrained members / forbidden
        self.forbidden: dict[int, set[int]] = {}
        self.constrained: dict[int, set[int]] = {}
        for a, b in cannot_link:
            self.forbidden.setdefault(a, set()).add(b)
            self.forbidden.setdefault(b, set()).add(a)
            self.constrained.setdefault(a, {a})
            self.constrained.setdefault(b, {b})

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = int(parent[root])
        while parent[x] != root:  # path compression
            parent[x], x = root, int(parent[x])
        return root

    def union(self, a: int, b: int) -> bool:
        """Join the clusters of a and b unless a cannot-link forbids it."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        fa, fb = self.forbidden.get(ra), self.forbidden.get(rb)
        if fa and rb in self.constrained and fa & self.constrained[rb]:
            return False
        if fb and ra in self.constrained and fb & self.constrained[ra]:
            return False
        if self.rank[ra] < self.rank[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        if self.rank[ra] == self.rank[rb]:
            self.rank[ra] += 1
        for table in (self.forbidden, self.constrained):
            moved = table.pop(rb, None)
            if moved:
                table.setdefault(ra, set()).update(moved)
        return True


def cluster(
    max_unit_id: int,
    edges: pa.Table,
    threshold: float,
    *,
    cannot_link: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
) -> ClusterResult:
    """Cluster units 1..max_unit_id from scored edges (unit_id_l, unit_id_r, match_probability).

    Must-links (clerical "match") are applied first and override a cannot-link on the same
    pair; then edges >= threshold, most probable first (ties by unit ids, deterministic).
    """
    must = {(min(a, b), max(a, b)) for a, b in must_link}
    cannot = [(a, b) for a, b in ((min(x, y), max(x, y)) for x, y in cannot_link)
              if (a, b) not in must]
    uf = _ConstrainedUnionFind(max_unit_id + 1, cannot)
    refused: list[tuple[int, int, float]] = []
    for a, b in sorted(must):
        if not uf.union(a, b):
            refused.append((a, b, 1.0))

    prob = edges.column("match_probability").to_numpy()
    keep = prob >= threshold
    left = edges.column("unit_id_l").to_numpy()[keep]
    right = edges.column("unit_id_r").to_numpy()[keep]
    prob = prob[keep]
    order = np.lexsort((right, left, -prob))
    for i in order:
        a, b = int(left[i]), int(right[i])
        if not uf.union(a, b):
            refused.append((a, b, float(prob[i])))

    # pointer jumping (vectorised) instead of a Python find() per node
    roots = uf.parent.copy()
    while True:
        jumped = roots[roots]
        if np.array_equal(jumped, roots):
            break
        roots = jumped
    return ClusterResult(cluster_of=roots, refused=refused)
