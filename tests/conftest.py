"""Shared pytest configuration: the shared fixtures and the hypothesis profiles.

Fixtures used by more than one test module live here and only here (issue 17: before, six
modules pulled them in with ``pytest_plugins`` and others with 41 ``noqa`` imports). The
support modules (``tests/*_support.py``, ``*_fixtures.py``, ``ingest_testdata.py``) hold plain
helpers, imported as ``from tests.<module> import ...``; fixtures used by one module stay in
that module.

- ``store_url``: a migrated, empty governance store (SQLite; PostgreSQL too when
  ``C2C_TEST_DATABASE_URL`` is set); ``sessions``: a session factory on it.
- ``generated``: a small generated landing tree, once per session.
- ``env``: a real API app on a fresh home and store with one user per role.
- ``ienv``: an encrypted warehouse and landing folder for the ingest tests.

Hypothesis profiles:

- ``dev`` (default): random examples on every run, so developers keep exploring new cases
  (a failure prints its ``@reproduce_failure`` blob and the example to pin as ``@example``).
- ``ci`` (loaded when the ``CI`` environment variable is set): ``derandomize=True`` and no
  example database, so a CI run is reproducible and never flaky; the same examples every time,
  sized to keep each area's tests within its time budget.
- ``deep``: many examples, for a local hunt before changing the disclosure engine
  (``HYPOTHESIS_PROFILE=deep pytest tests/analytics/test_disclosure.py``).

``HYPOTHESIS_PROFILE`` picks any of them explicitly. Settings a test passes to ``@settings``
win over the profile. Test support modules (``tests/*_support.py``, ``*_fixtures.py``) stay
plain modules at tests/; the tests themselves live in one folder per package (``tests/ingest/``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import Session, sessionmaker

from governance.db import make_engine
from tests.api_support import ApiEnv, api_env
from tests.governance_fixtures import BACKENDS, make_store
from tests.ingest_testdata import Env

settings.register_profile(
    "dev", max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", parent=settings.get_profile("dev"), max_examples=15, derandomize=True, database=None,
    print_blob=True,
)
settings.register_profile("deep", parent=settings.get_profile("dev"), max_examples=400)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty governance store per test; yields its URL."""
    with make_store(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sessions(store_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(store_url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated landing tree (synthetic partners.csv, CALPADS, college, CCGI files)."""
    from synth.generator import generate_small

    out = tmp_path_factory.mktemp("generated")
    generate_small(out)
    return out


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path, generated: Path) -> Iterator[ApiEnv]:
    """A fresh API app and store per test."""
    with make_store(request.param, tmp_path) as url, \
            api_env(url, tmp_path / "home", generated / "partners.csv") as e:
        yield e


@pytest.fixture
def ienv(tmp_path: Path) -> Iterator[Env]:
    environment = Env(tmp_path)
    yield environment
    environment.con.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test files with the most test functions marked ``slow`` run first, each file's tests
    together.

    ``make test`` hands whole files to its two workers in this order (``--dist loadfile
    --no-loadscope-reorder``): the two Spark files and the other long ones start at once, one
    per worker, and the many short files fill in behind them, instead of a long file starting
    last while the other worker sits idle. A file's tests stay together and in their order,
    so its module-scoped fixtures are built once. (Parametrised cases count once: they share
    their function's set-up.)
    """
    slow: dict[Path, set[str]] = {}
    first: dict[Path, int] = {}
    for index, item in enumerate(items):
        first.setdefault(item.path, index)
        if item.get_closest_marker("slow") is not None:
            slow.setdefault(item.path, set()).add(getattr(item, "originalname", item.name))
    items.sort(key=lambda item: (-len(slow.get(item.path, ())), first[item.path]))
