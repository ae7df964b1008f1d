"""Jaro-Winkler similarity exactly as DuckDB's ``jaro_winkler_similarity`` computes it.

The Spark backend scores names with this function (a Python UDF) instead of the Scala
``jaro_winkler`` in Splink's similarity jar: the jar's variant differs from DuckDB's by up to
0.09 (measured on 514,605 name pairs: 130 of them fell on the other side of a 0.8 / 0.9 /
0.92 level threshold), and one model must score a pair the same on both backends.
Standard Jaro (match window ``max(len) // 2 - 1``, half the transpositions), Winkler boost
of 0.1 per common prefix character (up to 4) when the Jaro similarity exceeds 0.7.
"""

from __future__ import annotations


def jaro(a: str, b: str) -> float:
    if not a or not b:  # DuckDB: 0.0 for an empty string, even against another
        return 0.0
    window = max(0, max(len(a), len(b)) // 2 - 1)
    used = [False] * len(b)
    matched_a = []
    for i, ch in enumerate(a):
        lo, hi = max(0, i - window), min(len(b), i + window + 1)
        for j in range(lo, hi):
            if not used[j] and b[j] == ch:
                used[j] = True
                matched_a.append(ch)
                break
    m = len(matched_a)
    if m == 0:
        return 0.0
    matched_b = [b[j] for j in range(len(b)) if used[j]]
    transpositions = sum(x != y for x, y in zip(matched_a, matched_b, strict=True)) // 2
    return (m / len(a) + m / len(b) + (m - transpositions) / m) / 3


def jaro_winkler(a: str | None, b: str | None) -> float | None:
    if a is None or b is None:
        return None
    sim = jaro(a, b)
    if sim <= 0.7:
        return sim
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return sim + prefix * 0.1 * (1 - sim)
