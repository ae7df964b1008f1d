"""The package dependency rule of DESIGN.md, checked on the source (not by memory).

core <- {synth, ingest, linkage, deidentify, analytics, governance} <- services
   <- {api, dagster_project} <- cli
Libraries never import each other; services import core and libraries (never a front door);
api and dagster_project never import each other; cli launches both (`c2c serve`, `c2c demo`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "core", "synth", "ingest", "linkage", "deidentify", "analytics", "governance",
    "services", "api", "dagster_project", "cli",
]
LIBRARIES = {"synth", "ingest", "linkage", "deidentify", "analytics", "governance"}
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    **{lib: {"core", lib} for lib in LIBRARIES},
    "services": {"core", "services", *LIBRARIES},
    "api": {"core", "services", "api", *LIBRARIES},
    "dagster_project": {"core", "services", "dagster_project", *LIBRARIES},
    # cli starts the other two (`c2c serve`, `c2c demo`), so it may import them to launch them
    "cli": set(PACKAGES),
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_the_rule_allows(package: str) -> None:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_packages(path) - ALLOWED[package]
        if bad:
            offences.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offences, "dependency rule broken:\n" + "\n".join(offences)


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import api.app\nfrom linkage import model\n", encoding="utf-8")
    assert imported_packages(sample) == {"api", "linkage"}


def test_checker_sees_a_service_reaching_up_to_a_front_door(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("from api.schemas import UploadResult\nimport governance\n",
                      encoding="utf-8")
    assert imported_packages(sample) - ALLOWED["services"] == {"api"}
