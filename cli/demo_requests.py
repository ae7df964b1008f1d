"""The governed part of ``c2c demo``, over HTTP as a researcher's and the board's tools would
do it: requests, provider review, board quorum, output checks; then how to reach the API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rich.console import Console

from cli.loopback import ApiClient
from core.settings import Settings

console = Console()
PORTAL_PAGE = {"partner": "/portal/partner", "researcher": "/portal/researcher",
               "board": "/portal/board", "board_2": "/portal/board",
               "checker": "/portal/checker", "checker_2": "/portal/checker",
               "steward": "/portal/steward"}


def _provider_review(client: ApiClient, stewards: dict[str, str], request_id: str) -> int:
    """Each partner the request was routed to approves through its steward; returns how many."""
    answered = 0
    for token in stewards.values():
        for item in client.get("/v1/steward/reviews", token):
            if item["request"]["id"] == request_id and item["review"]["status"] == "pending":
                client.post(f"/v1/steward/reviews/{request_id}", token,
                            {"decision": "approve",
                             "reason": "The agreement permits this purpose."})
                answered += 1
    return answered


def release_outputs(client: ApiClient, keys: dict[str, str], request_ids: list[str]) -> None:
    """Two output checkers release each built extract (the researcher can download it then)."""
    for request_id in request_ids:
        for checker in ("checker", "checker_2"):
            client.post(f"/v1/checker/requests/{request_id}/decisions", keys[checker],
                        {"decision": "approve", "reason": "Tables and rows checked."})
        console.print(f"  two output checkers released {request_id}", highlight=False,
                      markup=False)


def demo_requests(client: ApiClient, keys: dict[str, str],
                   stewards: dict[str, str]) -> list[str]:
    """A researcher asks for one extract and one aggregate table; the partners' stewards
    answer provider review and two board members approve; a third table waits for the board
    (all over HTTP)."""
    expiry = (date.today() + timedelta(days=90)).isoformat()
    bodies: list[dict[str, Any]] = [
        {"kind": "individual", "title": "CTE pathways and college enrollment",
         "purpose": "Does completing a CTE pathway raise community college enrollment?",
         "variables": ["person_id", "academic_year", "reporting_lea", "gender",
                       "race_ethnicity", "cte_completer", "cc_enrolled_within_1yr"],
         "requested_expiry": expiry, "training_attested": True, "irb_reference": "IRB-DEMO-1"},
        {"kind": "aggregate", "title": "FAFSA completion by gender and CTE status",
         "purpose": "Financial aid completion gaps by gender among CTE participants.",
         "variables": ["fafsa_or_cadaa_completed"], "group_by": ["gender", "cte_participant"],
         "requested_expiry": expiry},
    ]
    ids = []
    for body in bodies:
        request_id = client.post("/v1/requests", keys["researcher"], body)["id"]
        client.post(f"/v1/requests/{request_id}/submit", keys["researcher"])
        console.print(f"  researcher submitted {request_id} ({body['kind']}): {body['title']}",
                      highlight=False, markup=False, soft_wrap=True)
        answered = _provider_review(client, stewards, request_id)
        console.print(f"  {answered} partner steward(s) approved it in provider review",
                      highlight=False, markup=False)
        for board in ("board", "board_2"):
            client.post(f"/v1/board/requests/{request_id}/decisions", keys[board],
                        {"decision": "approve", "reason": "Purpose and variables fit."})
        console.print(f"  two board members approved {request_id} (quorum reached)",
                      highlight=False, markup=False)
        ids.append(request_id)
    pending = {"kind": "aggregate", "title": "a-g eligibility by race/ethnicity",
               "purpose": "Which groups meet UC/CSU requirements less often, by district?",
               "variables": ["ag_eligible"], "group_by": ["reporting_lea", "race_ethnicity"],
               "requested_expiry": expiry}
    waiting = client.post("/v1/requests", keys["researcher"], pending)["id"]
    client.post(f"/v1/requests/{waiting}/submit", keys["researcher"])
    _provider_review(client, stewards, waiting)
    console.print(f"  researcher submitted {waiting}; it waits for the board",
                  highlight=False, markup=False)
    return ids


def print_access(keys: dict[str, str], port: int, request_id: str, serving: bool,
                  settings: Settings) -> None:
    console.print("Demo API keys (one per role; shown once, stored hashed):", highlight=False)
    for role, key in keys.items():
        console.print(f"  {role:10} {key}", highlight=False, markup=False, soft_wrap=True)
    base = f"http://127.0.0.1:{port}"
    if serving:
        console.print("Try these while the server runs (another terminal):", highlight=False)
    else:
        console.print("The API is not running (--no-serve). Start it on the demo's state with\n"
                      f"  C2C_HOME={settings.resolved_home} c2c serve --port {port}\n"
                      "then these work:", highlight=False, markup=False, soft_wrap=True)
    state_rates = "reporting_lea=STATE&subgroup=all&metric=hs_graduate"
    researcher = f"-H 'Authorization: Bearer {keys['researcher']}'"
    for line in (
        f"curl -s '{base}/v1/aggregates?{state_rates}'",
        f"curl -s -H 'Authorization: Bearer {keys['board']}' {base}/v1/board/requests",
        f"curl -s {researcher} -o extract.c2cx {base}/v1/requests/{request_id}/extract",
        f"curl -s {researcher} -o extract.key {base}/v1/requests/{request_id}/extract/key",
    ):
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"OpenAPI docs: {base}/docs", highlight=False, soft_wrap=True)
    console.print(f"Portal (browser): {base}/portal  -- public dashboard {base}/portal/public "
                  "needs no key; sign in at /portal/signin with a key above: " + ", ".join(
                      f"{role} -> {PORTAL_PAGE.get(role, 'API or CLI only')}" for role in keys)
                  + " (the steward key is the demo partner's; every partner has its own)",
                  highlight=False, markup=False, soft_wrap=True)
