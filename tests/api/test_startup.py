"""The API does not migrate the governance store: a store behind the code stops start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from core.settings import Settings
from governance.db import SchemaOutOfDate, current_revision, make_engine, upgrade


def test_create_app_refuses_a_store_behind_the_code(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", database_url=None)
    with pytest.raises(SchemaOutOfDate, match="c2c migrate"):
        create_app(settings)
    engine = make_engine(settings.governance_url)
    assert current_revision(engine) is None  # it only looked; nothing was migrated
    engine.dispose()
    upgrade(settings.governance_url)  # `c2c migrate`
    app = create_app(settings)
    assert app.title == "c2c-link API"


def test_services_come_through_dependencies_tests_can_override(tmp_path: Path) -> None:
    """Routes get their services with Depends, not from app.state (issue 17)."""
    import duckdb
    from fastapi.testclient import TestClient

    from api.deps import get_serving
    from api.serving import ServingSnapshot
    from tests.api_support import write_serving_snapshot

    settings = Settings(home=tmp_path / "home", database_url=None)
    upgrade(settings.governance_url)
    write_serving_snapshot(settings.serving_path)
    other = tmp_path / "other.duckdb"
    write_serving_snapshot(other)
    con = duckdb.connect(str(other))
    con.execute("UPDATE snapshot_info SET run_id = 'run-override'")
    con.close()

    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/v1/snapshot").json()["run_id"] == "run-1"
        replacement = ServingSnapshot(other)
        app.dependency_overrides[get_serving] = lambda: replacement
        try:
            assert client.get("/v1/snapshot").json()["run_id"] == "run-override"
        finally:
            app.dependency_overrides.clear()
            replacement.close()


def test_serving_keeps_the_startup_heap_out_of_the_collector(tmp_path: Path) -> None:
    """A full collection while serving must not walk every object of the imports and the
    app (it was the 300-400 ms tail of the partners list, issue 13); shutdown gives them back
    to the collector."""
    import gc

    from fastapi.testclient import TestClient

    settings = Settings(home=tmp_path / "home", database_url=None)
    upgrade(settings.governance_url)
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # modules, pydantic and SQLAlchemy metadata, the routes
        assert len(gc.get_objects(generation=2)) < frozen
    assert gc.get_freeze_count() == 0
