"""`c2c --help` stays light, help reads as words, runtime code imports runtime deps only."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer.testing

from cli.main import COMMANDS, _module_commands, build_cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("duckdb", "dagster", "fastapi", "splink", "sqlalchemy", "pyarrow", "starlette")


def test_top_level_help_imports_no_heavy_module() -> None:
    script = ("import sys\nfrom cli.main import main\nsys.argv = ['c2c', '--help']\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert "LOADED []" in done.stdout, done.stdout
    for name in COMMANDS:
        assert name in done.stdout


def test_overview_lines_match_each_commands_own_help() -> None:
    for name, (module, line) in COMMANDS.items():
        command = _module_commands(module)[name]
        own = (command.help or "").strip().splitlines()[0]
        assert own == line, f"cli/commands.py COMMANDS[{name!r}] drifted from its docstring"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_words_not_python_types(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # drive the entry point's own (lazy) group, not a Typer app
    monkeypatch.setattr(typer.testing, "_get_command", lambda cli: cli)
    runner = typer.testing.CliRunner()
    pages = [runner.invoke(build_cli(), [name, "--help"], prog_name="c2c")]
    command = _module_commands(COMMANDS[name][0])[name]
    for sub in getattr(command, "commands", {}):
        pages.append(runner.invoke(build_cli(), [name, sub, "--help"], prog_name="c2c"))
    for page in pages:
        assert page.exit_code == 0, page.output
        assert not re.search(r"<(bool|int|str|float|path|list\[)", page.output), page.output


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


# Modules of runtime packages that need a dev-only package to import.
DEV_ONLY = {"fastapi.testclient", "starlette.testclient"}


def test_runtime_code_imports_only_runtime_dependencies() -> None:
    """A plain `pip install` of the wheel (no extras) must run every command: nothing outside
    tests/ and bench/ may import a dev-only package (Starlette's TestClient needs httpx)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
               for d in project["dependencies"]}
    ours = {"core", "synth", "ingest", "linkage", "deidentify", "analytics", "governance",
            "services", "api", "dagster_project", "cli"}
    # Extras a user opts into (spark): allowed only where imported lazily, since the code
    # checks for them and says how to install them (linkage/spark_backend.py).
    opt_in = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
              for extra, deps in project.get("optional-dependencies", {}).items()
              if extra not in {"dev", "bench"} for d in deps}
    by_module = importlib.metadata.packages_distributions()
    bad = []
    for package in sorted(ours):
        for path in (ROOT / package).rglob("*.py"):
            imported = _imported_modules(path)
            bad += [f"{path.relative_to(ROOT)} imports {m}" for m in sorted(imported & DEV_ONLY)]
            for module in {m.split(".")[0] for m in imported} - ours:
                if module in sys.stdlib_module_names or module == "__future__":
                    continue
                dists = {d.lower().replace("_", "-") for d in by_module.get(module, [])}
                if dists & opt_in:
                    if module in _top_level_imports(path):
                        bad.append(f"{path.relative_to(ROOT)} imports opt-in {module} at the "
                                   "top of the module")
                    continue
                if not dists & runtime and not _provided_by_runtime(dists, runtime):
                    bad.append(f"{path.relative_to(ROOT)} imports {module} ({dists or '?'})")
    assert bad == []


def _top_level_imports(path: Path) -> set[str]:
    """Top-level package names a module imports when it is imported (not inside a function or
    an ``if TYPE_CHECKING:`` block)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _provided_by_runtime(dists: set[str], runtime: set[str]) -> bool:
    """A package a runtime dependency itself requires (e.g. starlette through fastapi)."""
    for dependency in runtime:
        try:
            requires = importlib.metadata.requires(dependency) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            name = re.split(r"[<>=!~\[ ;(]", requirement, maxsplit=1)[0].lower()
            if name.replace("_", "-") in dists:
                return True
    return False


def test_the_unaudited_review_decide_is_retired(monkeypatch: pytest.MonkeyPatch) -> None:
    """`c2c review-decide` recorded a clerical decision under any name with no audit entry;
    `c2c review decide` (a reviewer's key, audited) is the one way now (README)."""
    monkeypatch.setattr(typer.testing, "_get_command", lambda cli: cli)
    result = typer.testing.CliRunner().invoke(
        build_cli(), ["review-decide", "p", "match", "--reviewer", "x"], prog_name="c2c")
    assert result.exit_code == 2 and "No such command" in result.output
    assert "review-decide" not in COMMANDS
