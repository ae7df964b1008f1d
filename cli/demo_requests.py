"""The governed part of ``c2c demo``, over HTTP as a researcher's and the board's tools would
do it: requests, provider review, board quorum, output checks (how to reach the API after:
``cli.demo_access``)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rich.console import Console

from cli.loopback import ApiClient

console = Console()


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


def release_output(client: ApiClient, keys: dict[str, str], request_id: str) -> None:
    """Two output checkers release one built output (the researcher can download it then)."""
    for checker in ("checker", "checker_2"):
        client.post(f"/v1/checker/requests/{request_id}/decisions", keys[checker],
                    {"decision": "approve", "reason": "Tables and rows checked."})
    console.print(f"  two output checkers released {request_id}: its owner can download it",
                  highlight=False, markup=False)


def demo_requests(client: ApiClient, keys: dict[str, str],
                   stewards: dict[str, str], steward_lea: str) -> list[str]:
    """A researcher asks for one extract and one aggregate table; the partners' stewards
    answer provider review and two board members approve. A third table, over one district,
    waits for that district's data steward, then the board (all over HTTP). Returns the
    three request ids."""
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
    # CALPADS variables over one district: only that district's steward is asked (a CCGI or
    # college variable would add those partners' stewards: docs/api.md, provider review).
    pending = {"kind": "aggregate", "title": "Graduation by race/ethnicity in one district",
               "purpose": "Which groups graduate with a standard diploma less often here?",
               "variables": ["hs_graduate"], "group_by": ["race_ethnicity"],
               "cohort": {"reporting_leas": [steward_lea]},
               "requested_expiry": expiry}
    waiting = client.post("/v1/requests", keys["researcher"], pending)["id"]
    submitted = client.post(f"/v1/requests/{waiting}/submit", keys["researcher"])
    asked = [r["org_code"] for r in submitted["provider_reviews"] if r["status"] == "pending"]
    console.print(f"  researcher submitted {waiting} (district {steward_lea}); it waits for "
                  f"the data steward(s) of {', '.join(asked)}, then the board",
                  highlight=False, markup=False)
    return [*ids, waiting]


def steward_lea(client: ApiClient, stewards: dict[str, str]) -> str:
    """A district with published outcomes whose data steward the demo prints."""
    published = {row["reporting_lea"] for row in client.get("/v1/aggregates?limit=1000")["data"]}
    return next(org for org in sorted(stewards) if org in published)


