"""Refresh linkage/data/fallback_parameters.json from a trained model.

    .venv/bin/python bench/fallback_parameters.py $C2C_HOME/runs/<run_id>/model.json

Use the model of a link on a large clean run (the file documents which): its m and u per
comparison level, to 3 significant digits, become the fixed values a run falls back to for a
level it cannot train (linkage/training.py). Levels the model itself left neutral (m = u)
are left out, so a run that cannot train them keeps them neutral too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "linkage" / "data" / "fallback_parameters.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("--source", required=True,
                        help="what the model was trained on (written into the file)")
    args = parser.parse_args()
    model = json.loads(args.model.read_text())
    table: dict[str, dict[str, dict[str, float]]] = {}
    for comparison in model["comparisons"]:
        levels = table.setdefault(comparison["output_column_name"], {})
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            if level.get("is_null_level") or not isinstance(m, float | int) or not isinstance(
                    u, float | int) or m == u:
                continue
            levels[level["label_for_charts"]] = {"m": float(f"{m:.3g}"), "u": float(f"{u:.3g}")}
    TARGET.write_text(json.dumps({
        "source": args.source, "prior_fallback": "1 / records", "comparisons": table,
    }, indent=1) + "\n")
    print(f"wrote {TARGET} ({sum(len(v) for v in table.values())} levels)")


if __name__ == "__main__":
    main()
