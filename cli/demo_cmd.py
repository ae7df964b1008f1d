"""``c2c demo``: synthetic partner data through the whole pipeline (via Dagster), then the API."""

from __future__ import annotations

import threading
from pathlib import Path

import typer
from rich.console import Console

from cli.demo_access import print_access
from cli.demo_report import (
    bin_prefix,
    print_link_report,
    print_linkage_quality,
    print_next_steps,
    print_published,
    print_stage_metadata,
    print_submissions_summary,
)
from cli.demo_requests import demo_requests, release_output, steward_lea
from cli.demo_setup import build_loop, configure, fresh
from core.keys import create_master_key

console = Console()


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
    fresh(home)
    fresh(data)
    landing = data / "landing"
    settings = configure(home, landing)
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
            builder = threading.Thread(target=build_loop, args=(settings, stop), daemon=True,
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
