"""The governed part of ``c2c demo``, over HTTP as a researcher's and the board's tools would
do it: requests, provider review, board quorum, output checks; then how to reach the API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rich.console import Console

from cli.demo_report import bin_prefix
from cli.loopback import ApiClient
from core.settings import Settings

console = Console()
# Where each demo sign-in lands in the portal (api/portal).
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


def print_access(keys: dict[str, str], stewards: dict[str, str], names: dict[str, str],
                  port: int, ids: list[str], serving: bool, settings: Settings) -> None:
    base = f"http://127.0.0.1:{port}"
    bin_ = bin_prefix()
    released, to_check, to_review = ids
    console.print(f"Sign in at {base}/portal/signin with a key below (one per role; shown once, "
                  "stored hashed):", highlight=False, soft_wrap=True)
    jobs = {
        "partner": "upload CALPADS files, read receipts and what is missing",
        "researcher": f"download {released} (released); follow {to_check} and {to_review}",
        "board": f"decide {to_review} once its data steward has answered",
        "board_2": "the second board member (quorum is two)",
        "checker": f"check the built output of {to_check}",
        "checker_2": "the second output checker (two approvals release)",
        "admin": "API and CLI only (users, keys, partners, audit)",
        "admin_2": "the second admin: every privileged grant needs two",
        # the demo's home, or the command reads (and makes) ./.c2c
        "reviewer": f"clerical review pairs: C2C_HOME={settings.resolved_home} "
                    f"{bin_}c2c review list",
    }
    for role, key in keys.items():
        page = PORTAL_PAGE.get(role, "-")
        console.print(f"  {role:10} {key}\n             {page}: {jobs.get(role, '')}",
                      highlight=False, markup=False, soft_wrap=True)
    console.print("Data stewards (one per partner; /portal/steward reviews requests that use "
                  "that partner's records):", highlight=False, soft_wrap=True)
    for org, key in stewards.items():
        console.print(f"  steward {org} {names.get(org, '')}: {key}", highlight=False,
                      markup=False, soft_wrap=True)
    console.print(f"A day's work in the browser: the steward of the district above approves "
                  f"{to_review}; both board members approve it; the demo builds it within "
                  f"seconds; two checkers release it; the researcher downloads it.",
                  highlight=False, soft_wrap=True)
    mail = settings.mail_dir
    console.print(f"Mail the service sends (one file per message, a Maildir): {mail}/new  "
                  f"(read with: ls -t {mail}/new | head; or mutt -f {mail})",
                  highlight=False, markup=False, soft_wrap=True)
    if serving:
        console.print("Try these while the server runs (another terminal):", highlight=False)
    else:
        console.print("The API is not running (--no-serve). Start it on the demo's state with\n"
                      f"  C2C_HOME={settings.resolved_home} {bin_}c2c serve --port {port}\n"
                      "then these work:", highlight=False, markup=False, soft_wrap=True)
    researcher = f"-H 'Authorization: Bearer {keys['researcher']}'"
    for line in (
        f"curl -s '{base}/v1/aggregates?reporting_lea=STATE&subgroup=all&metric=hs_graduate'",
        f"curl -s -H 'Authorization: Bearer {keys['board']}' {base}/v1/board/requests",
        f"curl -s {researcher} {base}/v1/requests/{to_check}",
        f"curl -s {researcher} -o {released}.tar.age {base}/v1/requests/{released}/extract",
        f"curl -s {researcher} -o {released}-key.txt "
        f"{base}/v1/requests/{released}/extract/key.txt",
        f"age -d -i {released}-key.txt {released}.tar.age | tar -xv   # apt-get install age",
    ):
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"Portal: {base}/ (public dashboard {base}/portal/public needs no key); "
                  f"OpenAPI docs: {base}/docs", highlight=False, soft_wrap=True)
