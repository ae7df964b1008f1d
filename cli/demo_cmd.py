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
    table = Table(title="Pipeline (Dagster assets)")
    table.add_column("asset")
    table.add_column("metadata")
    for asset, metadata in run.metadata.items():
        shown = {k: v for k, v in metadata.items() if not isinstance(v, dict | list)}
        table.add_row(asset, ", ".join(f"{k}={v}" for k, v in list(shown.items())[:8]))
    console.print(table)
    failed = run.failed_checks
    colour = "red" if failed else "green"
    console.print(f"[{colour}]asset checks: {len(run.checks) - len(failed)} passed, "
                  f"{len(failed)} failed[/] {', '.join(failed)}")


def _submissions(settings: Settings) -> None:
    """A compact view of `c2c submissions` (the full report goes to CSV)."""
    from datetime import date as date_type

    from cli.ingest_cmd import load_partner_registry, open_warehouse
    from core.calpads import FILE_TYPES
    from ingest.submissions import submission_report, write_csv

    partners = load_partner_registry(settings, None)
    con, _ = open_warehouse(settings)
    try:
        rows = submission_report(con, partners, date_type.today())
    finally:
        con.close()
    out = settings.reports_dir / "submissions.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out)
    table = Table(title="CALPADS submissions: rows per file type")
    for column in ("LEA", "year", *FILE_TYPES, "missing", "status"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.org_code, row.academic_year,
                      *(str(row.counts.get(t, 0)) for t in FILE_TYPES),
                      str(len(row.missing)) if row.missing else "", row.deadline_status)
    console.print(table)
    console.print(f"full report: {out}", highlight=False)


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


def _demo_requests(client: Any, keys: dict[str, str]) -> list[str]:
    """A researcher asks for one extract and one aggregate table, which two board members
    approve, and a third table left waiting for the board."""
    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[role]}"}

    expiry = (date.today() + timedelta(days=90)).isoformat()
    bodies = [
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
        created = client.post("/v1/requests", json=body, headers=auth("researcher"))
        created.raise_for_status()
        request_id = created.json()["id"]
        client.post(f"/v1/requests/{request_id}/submit",
                    headers=auth("researcher")).raise_for_status()
        for board in ("board", "board_2"):
            client.post(f"/v1/board/requests/{request_id}/decisions",
                        json={"decision": "approve", "reason": "Purpose and variables fit."},
                        headers=auth(board)).raise_for_status()
        ids.append(request_id)
    pending = {"kind": "aggregate", "title": "a-g eligibility by race/ethnicity",
               "purpose": "Which groups meet UC/CSU requirements less often, by district?",
               "variables": ["ag_eligible"], "group_by": ["reporting_lea", "race_ethnicity"],
               "requested_expiry": expiry}
    created = client.post("/v1/requests", json=pending, headers=auth("researcher"))
    created.raise_for_status()
    client.post(f"/v1/requests/{created.json()['id']}/submit",
                headers=auth("researcher")).raise_for_status()
    return ids


def _print_access(keys: dict[str, str], port: int, request_id: str) -> None:
    table = Table(title="Demo API keys (shown once; stored hashed)")
    table.add_column("role")
    table.add_column("key")
    for role, key in keys.items():
        table.add_row(role, key)
    console.print(table)
    base = f"http://127.0.0.1:{port}"
    console.print("Try these while the server runs:", highlight=False)
    state_rates = "reporting_lea=STATE&subgroup=all&metric=hs_graduate"
    console.print(f"  curl -s '{base}/v1/aggregates?{state_rates}'",
                  highlight=False, markup=False, soft_wrap=True)
    console.print(f"  curl -s -H 'Authorization: Bearer {keys['board']}' {base}/v1/board/requests",
                  highlight=False, markup=False, soft_wrap=True)
    console.print(f"  curl -s -H 'Authorization: Bearer {keys['researcher']}' "
                  f"-o extract.c2cx {base}/v1/requests/{request_id}/extract",
                  highlight=False, markup=False, soft_wrap=True)
    console.print(f"OpenAPI docs: {base}/docs", highlight=False)
    console.print(f"Portal (browser): {base}/portal  -- public dashboard {base}/portal/public "
                  "needs no key; sign in at /portal/signin with a key above: " + ", ".join(
                      f"{role} -> {PORTAL_PAGE.get(role, 'API only')}" for role in keys),
                  highlight=False, markup=False, soft_wrap=True)


# Where each demo sign-in lands in the portal (api/portal).
PORTAL_PAGE = {"partner": "/portal/partner", "researcher": "/portal/researcher",
               "board": "/portal/board", "board_2": "/portal/board"}


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
    from fastapi.testclient import TestClient

    from api.app import create_app
    from dagster_project.resources import C2CResource
    from dagster_project.run import materialize_extracts, materialize_pipeline
    from governance.bootstrap import create_demo_users
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
    (landing / "truth.parquet").rename(data / "truth.parquet")
    console.print(f"{summary.files} files, {summary.bytes / 1e6:.1f} MB in {summary.seconds:.1f} s "
                  f"-> {landing}")

    console.rule("2. Register partners and demo users (governance store)")
    from cli.migrate_cmd import migrate

    migrate()  # the explicit step an operator runs after each upgrade
    c2c = C2CResource(home=str(home))
    with c2c.governance() as session:
        partners = import_partners_csv(session, landing / "partners.csv")
        keys = create_demo_users(session)
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

    console.rule("4. Governed data requests: submit, board quorum, extracts")
    with TestClient(create_app(settings)) as client:
        request_ids = _demo_requests(client, keys)
    extracts = materialize_extracts(c2c, instance).metadata.get("research_extracts", {})
    console.print(f"requests approved by quorum: {', '.join(request_ids)}; "
                  f"extracts built: {extracts.get('extracts_built', 0)}")
    c2c.close()  # the demo's own governance engine; the API below has its own

    console.rule("5. API")
    _print_access(keys, port, request_ids[0])
    console.print(f"Dagster UI: DAGSTER_HOME={settings.dagster_home} C2C_HOME={home} "
                  f"C2C_LANDING_DIR={landing} .venv/bin/dagster dev -m dagster_project",
                  highlight=False, markup=False, soft_wrap=True)
    if serve:
        import uvicorn

        console.print(f"serving on http://127.0.0.1:{port} (Ctrl-C stops)")
        uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
