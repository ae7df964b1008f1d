"""``c2c demo``: synthetic partner data through the whole pipeline (via Dagster), then the API."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cli.loopback import ApiClient
from core.errors import Conflict
from core.keys import create_master_key
from core.settings import Settings, get_settings

console = Console()
MARKER = ".c2c-demo"


def _fresh(folder: Path) -> None:
    """Empty ``folder`` if the demo made it (marker file); never touch anything else."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise Conflict(f"{folder} is not empty and was not made by `c2c demo`; "
                           "choose another --home / --data folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by c2c demo; emptied on the next demo run\n")


def _configure(home: Path, landing: Path) -> Settings:
    """The demo's settings go into the environment so Dagster, the API and the CLI share them."""
    os.environ["C2C_HOME"] = str(home)
    os.environ["C2C_LANDING_DIR"] = str(landing)
    os.environ.pop("C2C_MASTER_KEY_FILE", None)
    os.environ.pop("C2C_DATABASE_URL", None)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    settings = get_settings()
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    # One run at a time (one DuckDB writer), no telemetry: the project's instance settings.
    import dagster_project

    instance_yaml = Path(dagster_project.__file__).with_name("dagster.yaml")
    shutil.copyfile(instance_yaml, settings.dagster_home / "dagster.yaml")
    return settings


def _print_stage_metadata(run: Any) -> None:
    """One line per asset (a table of free-form metadata does not fit 80 columns)."""
    console.print("What each asset reported (full metadata in the Dagster UI):", highlight=False)
    for asset, metadata in run.metadata.items():
        shown = {k: v for k, v in metadata.items()
                 if isinstance(v, int | float | str) and "\n" not in str(v)}
        text = ", ".join(f"{k}={v}" for k, v in list(shown.items())[:6])
        console.print(f"  {asset}: {text}", highlight=False, markup=False, soft_wrap=True)
    failed = run.failed_checks
    colour = "red" if failed else "green"
    console.print(f"[{colour}]asset checks: {len(run.checks) - len(failed)} passed, "
                  f"{len(failed)} failed[/] {', '.join(failed)}", highlight=False)


def _submissions(settings: Settings) -> None:
    """A compact view of `c2c submissions` (the full report goes to CSV)."""
    from cli.ingest_cmd import load_partner_registry
    from cli.submissions_view import print_submissions
    from services.submission_report import report_submissions

    out = settings.reports_dir / "submissions.csv"
    rows = report_submissions(settings=settings, as_of=date.today(), csv_path=out,
                              partners=load_partner_registry(settings, None))
    print_submissions(console, rows, "CALPADS submissions (SWP rounds)")
    console.print(f"full report: {out}", highlight=False, soft_wrap=True)


def _link_report(settings: Settings, truth: Path) -> None:
    import linkage
    from cli.link_cmd import print_evaluation
    from core.warehouse import warehouse

    with warehouse(settings, read_only=True) as con:
        console.rule("Linkage evaluation against the generator's truth file")
        print_evaluation(linkage.evaluate(con, truth))


def _published(settings: Settings) -> None:
    from analytics import summary_table

    rows = summary_table(settings.serving_path, limit=12)
    table = Table(title="Published outcomes (small cells suppressed)")
    for column in rows[0] if rows else []:
        table.add_column(column)
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


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


def _output_checks(client: ApiClient, keys: dict[str, str], request_ids: list[str]) -> None:
    """Two output checkers release each built extract (the researcher can download it then)."""
    for request_id in request_ids:
        for checker in ("checker", "checker_2"):
            client.post(f"/v1/checker/requests/{request_id}/decisions", keys[checker],
                        {"decision": "approve", "reason": "Tables and rows checked."})
        console.print(f"  two output checkers released {request_id}", highlight=False,
                      markup=False)


def _demo_requests(client: ApiClient, keys: dict[str, str],
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


def _print_access(keys: dict[str, str], port: int, request_id: str, serving: bool,
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


def _print_next_steps(settings: Settings, landing: Path) -> None:
    """The operator's walkthrough (README, "After the demo") in the demo's own folders."""
    home = settings.resolved_home
    console.print("Next, as the operator (README, 'After the demo'):", highlight=False)
    for line in (
        f"export C2C_HOME={home} C2C_LANDING_DIR={landing}",
        "c2c review list            # pairs the link was unsure about",
        "c2c fulfil                 # extracts of approved requests",
        "c2c extract decryptor      # the researcher's standalone decryptor",
    ):
        console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


# Where each demo sign-in lands in the portal (api/portal).
PORTAL_PAGE = {"partner": "/portal/partner", "researcher": "/portal/researcher",
               "board": "/portal/board", "board_2": "/portal/board",
               "checker": "/portal/checker", "checker_2": "/portal/checker",
               "steward": "/portal/steward"}


def demo(
    students: int = typer.Option(2000, min=50, help="Synthetic K-12 students to generate."),
    seed: int = typer.Option(42, help="Generator seed (same seed, same data)."),
    home: Path = typer.Option(Path(".c2c-demo"), help="C2C_HOME of the demo (emptied first)."),
    data: Path = typer.Option(Path("demo-data"), help="Where the synthetic partner files go."),
    serve: bool = typer.Option(True, help="Serve the API when the pipeline is done."),
    port: int = typer.Option(8000, min=1, max=65535),
) -> None:
    """Generate partner data, run the whole pipeline through Dagster, then serve the API."""
    import dagster as dg

    from api.app import create_app
    from cli.loopback import free_port, serve_in_thread
    from dagster_project.resources import C2CResource
    from dagster_project.run import materialize_extracts, materialize_pipeline
    from governance.bootstrap import create_demo_stewards, create_demo_users
    from governance.partners import import_partners_csv
    from synth import generate

    home, data = home.absolute(), data.absolute()
    _fresh(home)
    _fresh(data)
    landing = data / "landing"
    settings = _configure(home, landing)
    create_master_key(settings.master_key_path)

    console.rule(f"1. Generate synthetic partner data ({students:,} students, seed {seed})")
    summary = generate(landing, students=students, seed=seed, years=["2021-22", "2022-23",
                                                                     "2023-24"])
    # The registry and the answer key are not partner data: keep them out of the landing tree.
    (landing / "truth.parquet").rename(data / "truth.parquet")
    (landing / "partners.csv").rename(data / "partners.csv")
    console.print(f"{summary.files} files, {summary.bytes / 1e6:.1f} MB in {summary.seconds:.1f} s "
                  f"-> {landing}")

    console.rule("2. Register partners and demo users (governance store)")
    from cli.migrate_cmd import migrate

    migrate()  # the explicit step an operator runs after each upgrade
    c2c = C2CResource(home=str(home))
    with c2c.governance() as session:
        partners = import_partners_csv(session, data / "partners.csv")
        keys = create_demo_users(session)
        stewards = create_demo_stewards(session)
        session.commit()
    console.print(f"{len(partners)} partners registered")

    console.rule("3. Run the pipeline as Dagster assets (ingest, link, outcomes, publish)")
    instance = dg.DagsterInstance.get()
    run = materialize_pipeline(c2c, instance, with_extracts=False,
                               on_stage=lambda s: console.print(f"[cyan]> {s}[/]"))
    _print_stage_metadata(run)
    _submissions(settings)
    _link_report(settings, data / "truth.parquet")
    _published(settings)

    console.rule("4. Governed data requests over HTTP: submit, board quorum, extracts")
    # The API runs for real on a loopback port (the --port one when it keeps serving) and the
    # demo is its client, as a researcher's and the board's tools would be.
    api_port = port if serve else free_port()
    with serve_in_thread(create_app(settings), api_port) as server:
        console.print(f"API started on {server.base_url}", highlight=False)
        api = ApiClient(server.base_url)
        request_ids = _demo_requests(api, keys, stewards)
        extracts = materialize_extracts(c2c, instance).metadata.get("research_extracts", {})
        console.print(f"extracts built: {extracts.get('extracts_built', 0)} "
                      f"(requests {extracts.get('requests', 'none')})", highlight=False,
                      soft_wrap=True)
        _output_checks(api, keys, request_ids)
        c2c.close()  # the demo's own governance engine; the API has its own

        console.rule("5. API")
        # --no-serve: the server above stops with the demo, so show the port `c2c serve` uses
        # one steward (the demo partner's own) beside the other roles; the rest are alike
        shown = {**keys, **dict(("steward", token) for token in list(stewards.values())[:1])}
        _print_access(shown, api_port if serve else port, request_ids[0], serve, settings)
        console.print(f"Dagster UI: DAGSTER_HOME={settings.dagster_home} C2C_HOME={home} "
                      f"C2C_LANDING_DIR={landing} dagster dev -m dagster_project",
                      highlight=False, markup=False, soft_wrap=True)
        _print_next_steps(settings, landing)
        if serve:
            console.print(f"serving on {server.base_url} (Ctrl-C stops)", highlight=False)
            server.wait()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
