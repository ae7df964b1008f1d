"""What ``c2c demo`` prints at the end: a sign-in key per role and where it lands, the data
stewards, the mail folder, and commands to try against the API."""

from __future__ import annotations

from rich.console import Console

from cli.demo_report import bin_prefix
from core.settings import Settings

console = Console()


# Where each demo sign-in lands in the portal (api/portal).
PORTAL_PAGE = {"partner": "/portal/partner", "researcher": "/portal/researcher",
               "board": "/portal/board", "board_2": "/portal/board",
               "checker": "/portal/checker", "checker_2": "/portal/checker",
               "steward": "/portal/steward"}


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
