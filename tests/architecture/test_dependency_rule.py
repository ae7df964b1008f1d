"""The package dependency rule of DESIGN.md, checked on the source (not by memory).

core <- {synth, ingest, linkage, deidentify, analytics, governance} <- services
   <- {api, dagster_project} <- cli
Libraries never import each other; services import core and libraries (never a front door);
api and dagster_project never import each other; cli launches both (`c2c serve`, `c2c demo`).
No module imports itself back through others (no import cycle), and every front-door module
(api, cli, dagster_project) stays under 150 lines: a door parses, calls a service, renders.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
    sample.write_text("from api.partner_schemas import UploadResult\nimport governance\n",
                      encoding="utf-8")
    assert imported_packages(sample) - ALLOWED["services"] == {"api"}


def _portal_page_offences(path: Path) -> list[str]:
    """What a portal page may not do: call an API route handler (the pages and the routes call
    the same services instead) or run a query itself."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # sqlalchemy.orm is allowed for the Session type; the query builders are not
            if node.module in {"api.routes", "sqlalchemy", "sqlalchemy.sql"} \
                    or node.module.startswith("api.routes."):
                found.append(f"imports {node.module}")
        elif isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names
                      if a.name.startswith("api.routes") or a.name == "sqlalchemy"]
        elif isinstance(node, ast.Attribute) and node.attr in {"execute", "scalars"}:
            found.append(f"line {node.lineno} runs .{node.attr}(...)")
    return found


def test_portal_pages_call_services_not_route_handlers_or_queries() -> None:
    offences = [f"{path.relative_to(ROOT)} {what}"
                for path in sorted((ROOT / "api" / "portal").glob("routes_*.py"))
                for what in _portal_page_offences(path)]
    assert not offences, "portal pages must call services:\n" + "\n".join(offences)


def test_portal_check_sees_a_route_call_and_a_query(tmp_path: Path) -> None:
    sample = tmp_path / "routes_x.py"
    sample.write_text("from api.routes import board as api\nfrom sqlalchemy import select\n"
                      "rows = db.execute(select(1)).scalars()\n", encoding="utf-8")
    assert len(_portal_page_offences(sample)) == 4
    allowed = tmp_path / "routes_y.py"
    allowed.write_text("from sqlalchemy.orm import Session\n", encoding="utf-8")
    assert _portal_page_offences(allowed) == []


def module_graph(root: Path) -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in its body (a function-local import
    hides a cycle from Python's loader, not from this graph)."""
    modules = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
               for package in PACKAGES for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from pkg import submodule`` imports the submodule, not (only) the package
                subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
                targets.update(subs)
                if len(subs) < len(node.names):
                    targets.add(node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle (as a path that returns to its start), or [] when there is none."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_the_house_has_no_import_cycle() -> None:
    cycle = find_cycle(module_graph(ROOT))
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_sees_a_function_local_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


FRONT_DOORS = ("api", "cli", "dagster_project")
MAX_FRONT_DOOR_LINES = 150


def long_modules(root: Path, packages: tuple[str, ...] = FRONT_DOORS) -> list[str]:
    """The modules of ``packages`` with ``MAX_FRONT_DOOR_LINES`` lines or more."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines >= MAX_FRONT_DOOR_LINES:
                found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def test_every_front_door_module_is_under_150_lines() -> None:
    """A longer one holds a use case or a second job: move the use case to services/, split
    the jobs (one module per page group or schema family)."""
    offences = long_modules(ROOT)
    assert not offences, "front-door modules too long:\n" + "\n".join(offences)


def test_size_check_sees_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "short.py").write_text("x = 1\n" * 149, encoding="utf-8")
    (tmp_path / "api" / "long.py").write_text("x = 1\n" * 150, encoding="utf-8")
    assert long_modules(tmp_path, ("api",)) == ["api/long.py: 150 lines"]
