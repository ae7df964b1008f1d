"""The whole role x route matrix: 401 without a key, 403 with the wrong role, never 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api_support import ApiEnv, api_env
from tests.governance_fixtures import BACKENDS, make_store

REQUEST_BODY = {"kind": "aggregate", "title": "Matrix request",
                "purpose": "Checking who may call what", "variables": ["hs_graduate"]}

# (method, path, json body or None, role allowed; None = public, "any" = any valid key)
ROUTES: list[tuple[str, str, dict[str, Any] | None, str | None]] = [
    ("GET", "/health", None, None),
    ("GET", "/v1/aggregates", None, None),
    ("GET", "/v1/metrics", None, None),
    ("GET", "/v1/linkage-quality", None, None),
    ("GET", "/v1/snapshot", None, None),
    ("GET", "/v1/catalog", None, None),
    ("GET", "/v1/public/requests", None, None),
    ("GET", "/v1/me", None, "any"),
    ("POST", "/v1/me/keys", None, "any"),
    ("GET", "/v1/board/grants", None, "board"),
    ("POST", "/v1/admin/users/1/grants", {"kind": "role"}, "admin"),
    ("POST", "/v1/admin/grants/1/approve", None, "admin"),
    ("POST", "/v1/partner/uploads", None, "partner"),
    ("GET", "/v1/partner/submissions", None, "partner"),
    ("GET", "/v1/partner/submissions/1", None, "partner"),
    ("GET", "/v1/partner/missing", None, "partner"),
    ("GET", "/v1/partner/quality", None, "partner"),
    ("GET", "/v1/partner/quality.csv", None, "partner"),
    ("GET", "/v1/partner/id-changes", None, "partner"),
    ("POST", "/v1/requests", REQUEST_BODY, "researcher"),
    ("POST", "/v1/requests/preview", {"kind": "aggregate", "variables": ["hs_graduate"]},
     "researcher"),
    ("GET", "/v1/requests", None, "researcher"),
    ("GET", "/v1/requests/req-000000000000", None, "researcher"),
    ("PATCH", "/v1/requests/req-000000000000", {"title": "New title"}, "researcher"),
    ("POST", "/v1/requests/req-000000000000/submit", None, "researcher"),
    ("POST", "/v1/requests/req-000000000000/withdraw", None, "researcher"),
    ("GET", "/v1/requests/req-000000000000/extract", None, "researcher"),
    ("GET", "/v1/requests/req-000000000000/extract/key", None, "researcher"),
    ("GET", "/v1/requests/req-000000000000/extract/key.txt", None, "researcher"),
    ("GET", "/v1/board/requests", None, "board"),
    ("GET", "/v1/board/requests/req-000000000000", None, "board"),
    ("GET", "/v1/board/requests/req-000000000000/preview", None, "board"),
    ("POST", "/v1/board/requests/req-000000000000/decisions",
     {"decision": "approve", "reason": "fine"}, "board"),
    ("POST", "/v1/requests/req-000000000000/regroup", {"group_by": []}, "researcher"),
    ("GET", "/v1/steward/reviews", None, "steward"),
    ("POST", "/v1/steward/reviews/req-000000000000",
     {"decision": "approve", "reason": "fits"}, "steward"),
    ("GET", "/v1/steward/usage", None, "steward"),
    ("GET", "/v1/checker/requests", None, "checker"),
    ("GET", "/v1/checker/requests/req-000000000000", None, "checker"),
    ("POST", "/v1/checker/requests/req-000000000000/decisions",
     {"decision": "approve", "reason": "safe"}, "checker"),
    ("GET", "/v1/admin/users", None, "admin"),
    ("POST", "/v1/admin/users", {"name": "matrix-user", "roles": ["researcher"]}, "admin"),
    ("PATCH", "/v1/admin/users/1", {"active": True}, "admin"),
    ("POST", "/v1/admin/users/1/keys", None, "admin"),
    ("GET", "/v1/admin/keys", None, "admin"),
    ("POST", "/v1/admin/keys/000000000000/revoke", None, "admin"),
    ("GET", "/v1/admin/partners", None, "admin"),
    ("PUT", "/v1/admin/partners/9990001", {"name": "New LEA", "kind": "lea"}, "admin"),
    ("POST", "/v1/admin/partners/9990001/agreements", {"status": "pending"}, "admin"),
    ("GET", "/v1/admin/audit", None, "admin"),
    ("GET", "/v1/admin/audit/verify", None, "admin"),
]
CALLERS = ["anonymous", "partner", "researcher", "board", "admin"]


@pytest.fixture(scope="module", params=BACKENDS)
def shared_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               generated: Path) -> Iterator[ApiEnv]:
    base = tmp_path_factory.mktemp("matrix")
    with make_store(request.param, base) as url, \
            api_env(url, base / "home", generated / "partners.csv") as e:
        yield e


def test_every_route_is_in_the_matrix(shared_env: ApiEnv) -> None:
    listed = {(m, p.replace("req-000000000000", "{request_id}")) for m, p, _, _ in ROUTES}
    schema = shared_env.client.get("/openapi.json").json()
    generic = {
        (method.upper(), path)
        for path, item in schema["paths"].items() for method in item
    }
    normalise = {"/v1/partner/submissions/{submission_id}": "/v1/partner/submissions/1",
                 "/v1/admin/users/{user_id}": "/v1/admin/users/1",
                 "/v1/admin/users/{user_id}/keys": "/v1/admin/users/1/keys",
                 "/v1/admin/users/{user_id}/grants": "/v1/admin/users/1/grants",
                 "/v1/admin/grants/{grant_id}/approve": "/v1/admin/grants/1/approve",
                 "/v1/admin/keys/{key_id}/revoke": "/v1/admin/keys/000000000000/revoke",
                 "/v1/admin/partners/{org_code}": "/v1/admin/partners/9990001",
                 "/v1/admin/partners/{org_code}/agreements":
                     "/v1/admin/partners/9990001/agreements"}
    generic = {(m, normalise.get(p, p)) for m, p in generic}
    assert generic == listed


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_role_matrix(shared_env: ApiEnv, caller: str, method: str, path: str,
                     body: dict[str, Any] | None, allowed: str | None) -> None:
    headers = {} if caller == "anonymous" else shared_env.auth(caller)
    response = shared_env.client.request(method, path, json=body, headers=headers)
    assert response.status_code < 500, response.text
    if allowed is None:
        assert response.status_code == 200, response.text
    elif caller == "anonymous":
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"
    elif allowed in ("any", caller):
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "permission_denied"


def test_bad_and_revoked_keys_are_401(shared_env: ApiEnv) -> None:
    client = shared_env.client
    for header in ("Bearer nonsense", "Bearer c2c.000000000000.guess", "Basic abc"):
        response = client.get("/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "not_authenticated"
    created = client.post("/v1/admin/users", json={"name": "short-lived", "roles": ["researcher"]},
                          headers=shared_env.auth("admin"))
    assert created.status_code == 201
    token, key_id = created.json()["key"]["token"], created.json()["key"]["key_id"]
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    revoked = client.post(f"/v1/admin/keys/{key_id}/revoke", headers=shared_env.auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = client.get("/v1/board/requests", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    listed = client.get("/v1/admin/keys", headers=shared_env.auth("admin")).json()
    assert all("token" not in k and "hash" not in str(k) for k in listed)
