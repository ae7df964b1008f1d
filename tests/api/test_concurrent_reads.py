"""Issue #20 item 6: reads take no write lock, tested with real concurrent clients against a
real ``c2c serve`` on SQLite and on PostgreSQL (C2C_TEST_DATABASE_URL)."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from governance import audit
from governance.db import make_engine, read_engine, upgrade
from governance.users import create_user, issue_key
from tests.api.test_serve_process import _free_port, _home, serving
from tests.governance_fixtures import BACKENDS, make_store

BODY = {"kind": "aggregate", "title": "CTE and college going",
        "purpose": "Does CTE completion predict community college enrollment?",
        "variables": ["cte_completer", "cc_enrolled_within_1yr"], "group_by": ["gender"]}


def test_an_open_read_does_not_hold_sqlite_write_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    upgrade(url)
    engine = make_engine(url)
    reader = sessionmaker(read_engine(engine))()
    reader.execute(text("SELECT count(*) FROM audit_log")).scalar()  # read transaction open
    other = sqlite3.connect(tmp_path / "governance.db", timeout=0.2, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # 'database is locked' if the reader held the lock
    other.execute("ROLLBACK")
    other.close()
    reader.close()
    engine.dispose()


def _call(port: int, method: str, path: str, token: str,
          body: dict | None = None) -> int:  # type: ignore[type-arg]
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_readers_and_writers_all_succeed_and_the_chain_holds(
    backend: str, tmp_path: Path, generated: Path  # noqa: F811
) -> None:
    with make_store(backend, tmp_path) as url:
        env, _ = _home(tmp_path, generated / "partners.csv", database_url=url)
        engine = make_engine(url)
        with sessionmaker(engine).begin() as s:
            tokens = [issue_key(s, create_user(s, f"r{i}", ["researcher"], None).id).token
                      for i in range(4)]
        port = _free_port()
        with serving(env, port):
            for token in tokens:  # drafts with the largest cohort the bounds allow
                big = {**BODY, "cohort": {"reporting_leas": [f"{n:07d}" for n in range(3000)]}}
                assert _call(port, "POST", "/v1/requests", token, big) == 201

            def one(i: int) -> int:
                token = tokens[i % 4]
                if i % 3 == 0:
                    return _call(port, "POST", "/v1/requests", token, BODY)
                return _call(port, "GET", "/v1/requests" if i % 3 == 1 else "/v1/me", token)

            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(one, range(120)))
        assert sorted(set(statuses)) == [200, 201], statuses
        with sessionmaker(engine)() as s:
            result = audit.verify(s)
            assert result.ok, result.problems
            assert result.entries >= 84  # 4 drafts + 80 audited calls (/v1/me is not)
        engine.dispose()


