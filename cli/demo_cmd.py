"""``c2c demo``: synthetic partner data through the whole pipeline (via Dagster), then the API."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import typer
from rich.console import Console

from cli.demo_report import (
    bin_prefix,
    print_link_report,
    print_linkage_quality,
    print_next_steps,
    print_published,
    print_stage_metadata,
    print_submissions_summary,
)
from cli.demo_requests import demo_requests, print_access, release_output, steward_lea
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
    # The mail the service would send goes to a local Maildir (no mail server needed).
    os.environ["C2C_MAIL_DIR"] = str(home / "mail")
    os.environ.pop("C2C_SMTP_HOST", None)
    settings = get_settings()
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    # One run at a time (one DuckDB writer), no telemetry: the project's instance settings.
    import dagster_project

    instance_yaml = Path(dagster_project.__file__).with_name("dagster.yaml")
    shutil.copyfile(instance_yaml, settings.dagster_home / "dagster.yaml")
    return settings


def _build_loop(settings: Settings, stop: threading.Event, every_seconds: float = 5.0) -> None:
    """While the demo serves, build each request the board approves (what the Dagster sensor
    does in production), so an approval in the browser leads on to the output checkers."""
    from core.errors import C2CError
    from core.keys import KeyProvider
    from governance.db import session_factory
    from governance.notify import deliver, smtp_config
    from services.fulfil import fulfil_approved

    sessions = session_factory(settings.governance_url)
    keys = KeyProvider(settings.master_key_path, settings.keyring_path)
    while not stop.wait(every_seconds):
        try:
            outcome = fulfil_approved(settings=settings, sessions=sessions, keys=keys)
            for result in outcome.built:
                console.print(f"built {result.request_id}: it waits for two output checkers "
                              "(/portal/checker)", highlight=False, markup=False)
            for failure in outcome.failed:
                console.print(f"building {failure.request_id} failed: {failure.reason}",
                              highlight=False, markup=False, soft_wrap=True)
            deliver(sessions, smtp_config(settings))
        except C2CError as exc:  # busy warehouse, a failed build: say so, try again later
            console.print(f"building approved requests failed for now ({exc}); retrying",
                          highlight=False, markup=False, soft_wrap=True)


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
    from cli.loopback import ApiClient, free_port, serve_in_thread
    from dagster_project.resources import deployment_resources
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
    resources = deployment_resources(home=str(home))
    with resources["governance"].session() as session:
        partners = import_partners_csv(session, data / "partners.csv")
        keys = create_demo_users(session)
        stewards = create_demo_stewards(session)
        session.commit()
    console.print(f"{len(partners)} partners registered")

    # The portal serves from here on (the API runs for real on a loopback port, the --port one
    # when it keeps serving): people can open it while the pipeline runs, and the public
    # dashboard fills in when the pipeline publishes (the snapshot is picked up on the fly).
    api_port = port if serve else free_port()
    with serve_in_thread(create_app(settings), api_port) as server:
        console.print(f"Portal and API serving on {server.base_url}/ while the pipeline runs; "
                      "sign-in keys follow once the demo's requests are in place",
                      highlight=False, soft_wrap=True)

        console.rule("3. Run the pipeline as Dagster assets (ingest, link, outcomes, publish)")
        instance = dg.DagsterInstance.get()
        run = materialize_pipeline(resources, instance, with_extracts=False,
                                   on_stage=lambda s: console.print(f"[cyan]> {s}[/]"))
        print_stage_metadata(run)
        print_submissions_summary(settings)
        print_link_report(settings, data / "truth.parquet")
        print_linkage_quality(settings, resources, instance, data / "truth.parquet",
                              server.base_url)
        print_published(settings)

        console.rule("4. Governed data requests over HTTP: submit, board quorum, extracts")
        # The demo is the API's client, as a researcher's and the board's tools would be.
        api = ApiClient(server.base_url)
        request_ids = demo_requests(api, keys, stewards, steward_lea(api, stewards))
        extracts = materialize_extracts(resources, instance).metadata.get("research_extracts", {})
        console.print(f"extracts built: {extracts.get('extracts_built', 0)} "
                      f"(requests {extracts.get('requests', 'none')})", highlight=False,
                      soft_wrap=True)
        # The extract is released; the table waits for the checkers in the browser.
        release_output(api, keys, request_ids[0])
        resources["governance"].close()  # the demo's own governance engine; the API has its own

        console.rule("5. Sign in: every role's work in the browser")
        names = {p.org_code: p.name for p in partners}
        # --no-serve: the server above stops with the demo, so show the port `c2c serve` uses
        print_access(keys, stewards, names, api_port if serve else port, request_ids, serve,
                     settings)
        bin_ = bin_prefix()
        console.print(f"Dagster UI: DAGSTER_HOME={settings.dagster_home} C2C_HOME={home} "
                      f"C2C_LANDING_DIR={landing} {bin_}dagster dev -m dagster_project",
                      highlight=False, markup=False, soft_wrap=True)
        print_next_steps(settings, landing)
        if serve:
            stop = threading.Event()
            builder = threading.Thread(target=_build_loop, args=(settings, stop), daemon=True,
                                       name="demo-build-loop")
            builder.start()
            console.print(f"serving on {server.base_url} (Ctrl-C stops)", highlight=False)
            try:
                server.wait()
            finally:
                stop.set()
                builder.join(timeout=30)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
