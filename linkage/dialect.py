"""One model, two dialects: the comparison SQL is written once (DuckDB) and generated for Spark.

A saved Splink model carries its comparison SQL word for word, and DuckDB and Spark name
their functions differently (``jaro_winkler_similarity`` / ``jaro_winkler``, ``list_*`` /
array functions, ``hamming`` has no Spark twin). ``linkage/model.py`` keeps writing DuckDB
SQL; this module parses each level's condition with sqlglot and rewrites the functions whose
names or meaning differ, so both backends score the same levels. sqlglot's own DuckDB ->
Spark transpile is not enough (it turns ``len(list)`` into ``LENGTH``, ``list_has_any`` into
``&&`` and keeps ``jaro_winkler_similarity``), hence the explicit rewrites below; a function
neither rewritten nor known to both backends fails :func:`to_spark` loudly instead of
reaching Spark as a guess.

Semantics kept equal (tested in tests/linkage/test_spark.py on both engines):
- ``jaro_winkler_similarity`` -> ``c2c_jaro_winkler``, a Python UDF of DuckDB's algorithm
  (``linkage/jaro.py``): the jar's ``jaro_winkler`` differs from DuckDB's by up to 0.09 and
  put 130 of 514,605 name pairs in another level;
- ``len(list)`` -> ``size(list)`` (with ``spark.sql.legacy.sizeOfNull=false`` a NULL list
  gives NULL, as in DuckDB, not -1);
- ``list_has_any(a, b)`` -> ``arrays_overlap(a, b)``; ``list_contains`` -> ``array_contains``;
  ``list_has_all(a, b)`` -> ``forall(b, x -> array_contains(a, x))``;
- ``hamming(a, b)`` -> a character count over ``sequence(1, length(a))`` (callers guard
  equal lengths, as DuckDB requires);
- ``date_diff('day', a, b)`` -> ``datediff(b, a)``; ``suffix`` -> ``endswith``.
Date arithmetic must go through ``date_diff``: DuckDB's ``date - date`` is days, Spark's an
interval (the cross-backend test would catch a level written that way).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlglot
from sqlglot import exp

from core.errors import InternalError

# The Spark UDF computing DuckDB's jaro_winkler_similarity (registered by spark_backend).
JARO_WINKLER_UDF = "c2c_jaro_winkler"

# Functions spelt and behaving the same in DuckDB and Spark SQL (plus Splink's Spark jar UDF
# damerau_levenshtein); anything else must be rewritten below or the translation fails.
_SAME_IN_BOTH = {
    "abs", "coalesce", "least", "greatest", "replace", "left", "substr", "substring",
    "length", "year", "month", "day", "starts_with", "startswith", "damerau_levenshtein",
    "array_contains", "levenshtein", "lower", "upper", "trim",
}


def _base_column(node: exp.Expr) -> str | None:
    """The model column behind ``"x_l"`` / ``"x_r"`` / ``l.x`` (None for expressions)."""
    if not isinstance(node, exp.Column):
        return None
    name = node.name
    if node.table in ("l", "r"):
        return name
    for suffix in ("_l", "_r"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _hamming(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    sql = (f"aggregate(sequence(1, length({a.sql('spark')})), 0, (acc, i) -> acc + "
           f"CASE WHEN substr({a.sql('spark')}, i, 1) = substr({b.sql('spark')}, i, 1) "
           "THEN 0 ELSE 1 END)")
    return sqlglot.parse_one(sql, read="spark")


def _rewrite(node: exp.Expr, array_columns: frozenset[str]) -> exp.Expr:
    if isinstance(node, exp.Length) and _base_column(node.this) in array_columns:
        return _fn("size", node.this)
    if isinstance(node, exp.ArrayOverlaps):
        return _fn("arrays_overlap", node.this, node.expression)
    if isinstance(node, exp.JarowinklerSimilarity):
        # DuckDB's algorithm (linkage/jaro.py) as a UDF, not the jar's jaro_winkler (differs)
        return _fn(JARO_WINKLER_UDF, node.this, node.expression)
    if isinstance(node, exp.DateDiff):
        unit = node.args.get("unit")
        if unit is not None and unit.name.lower() not in ("day", "days"):
            raise InternalError(f"date_diff unit {unit.name!r} has no Spark translation here")
        # sqlglot reads DuckDB date_diff(unit, start, end) as this=end, expression=start
        return _fn("datediff", node.this, node.expression)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name == "hamming":
            return _hamming(args[0], args[1])
        if name == "list_has_all":
            return sqlglot.parse_one(
                f"forall({args[1].sql('spark')}, x -> array_contains({args[0].sql('spark')}, x))",
                read="spark")
        if name == "suffix":
            return _fn("endswith", *args)
        if name == "list_has_any":
            return _fn("arrays_overlap", *args)
        if name not in _SAME_IN_BOTH:
            raise InternalError(
                f"SQL function {node.name!r} has no Spark translation (linkage/dialect.py)")
    return node


def to_spark(condition: str, array_columns: Iterable[str]) -> str:
    """A DuckDB SQL condition (comparison level or blocking rule) in Spark SQL."""
    if condition.strip().upper() == "ELSE":
        return condition
    cols = frozenset(array_columns)
    tree = sqlglot.parse_one(condition, read="duckdb")
    tree = tree.transform(lambda n: _rewrite(n, cols))
    return tree.sql(dialect="spark")


def comparisons_for(
    comparisons: list[Any], sql_dialect: str, array_columns: Iterable[str]
) -> list[Any]:
    """The model's comparisons for the backend in use: unchanged for DuckDB; for Spark each
    comparison becomes its DuckDB dict (levels, labels, fixed m/u, term-frequency settings)
    with every condition translated, so the trained model JSON holds Spark SQL."""
    if sql_dialect == "duckdb":
        return comparisons
    if sql_dialect != "spark":
        raise InternalError(f"no comparison dialect for {sql_dialect!r}")
    cols = tuple(array_columns)
    out: list[dict[str, Any]] = []
    for comparison in comparisons:
        as_dict: dict[str, Any] = comparison.get_comparison("duckdb").as_dict()
        for level in as_dict["comparison_levels"]:
            level["sql_condition"] = to_spark(level["sql_condition"], cols)
        out.append(as_dict)
    return out
