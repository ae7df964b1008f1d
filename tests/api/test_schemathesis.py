"""Schemathesis against the app's own OpenAPI schema: no generated input gives a 5xx.

Each operation is called with the key of the role it is for (so the fuzzing reaches the route
bodies, not only the 403 check). Examples per operation are bounded to keep this fast.
(The strategies are driven directly with Hypothesis: ``schemathesis.pytest.from_fixture`` does
not work with pytest 9.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.api_support import ApiEnv, api_env
from tests.governance_fixtures import make_store

ROLE_BY_PREFIX = (("/v1/partner", "partner"), ("/v1/requests", "researcher"),
                  ("/v1/board", "board"), ("/v1/admin", "admin"), ("/v1/me", "researcher"))
EXAMPLES = 15


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory,
             generated: Path) -> Iterator[ApiEnv]:
    base = tmp_path_factory.mktemp("fuzz")
    with make_store("sqlite", base) as url, \
            api_env(url, base / "home", generated / "partners.csv", upload_max_bytes=100_000) as e:
        yield e


@pytest.mark.slow
def test_no_server_errors(fuzz_env: ApiEnv) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_env.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        role = next((r for prefix, r in ROLE_BY_PREFIX if operation.path.startswith(prefix)), None)
        _fuzz(operation, fuzz_env.auth(role) if role else {})


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    check()
