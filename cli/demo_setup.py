"""What ``c2c demo`` sets up around the pipeline: its own folders, its settings in the
environment, and the loop that builds approved requests while it serves."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from rich.console import Console

from core.errors import Conflict
from core.settings import Settings, get_settings

console = Console()


MARKER = ".c2c-demo"


def fresh(folder: Path) -> None:
    """Empty ``folder`` if the demo made it (marker file); never touch anything else."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise Conflict(f"{folder} is not empty and was not made by `c2c demo`; "
                           "choose another --home / --data folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by c2c demo; emptied on the next demo run\n")


def configure(home: Path, landing: Path) -> Settings:
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


def build_loop(settings: Settings, stop: threading.Event, every_seconds: float = 5.0) -> None:
    """While the demo serves, build each request the board approves (what the Dagster sensor
    does in production), so an approval in the browser leads on to the output checkers."""
    from core.errors import C2CError
    from core.keys import KeyProvider
    from governance.db import session_factory
    from services.fulfil import fulfil_approved
    from services.notifications import send_pending

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
            send_pending(settings=settings, sessions=sessions)
        except C2CError as exc:  # busy warehouse, a failed build: say so, try again later
            console.print(f"building approved requests failed for now ({exc}); retrying",
                          highlight=False, markup=False, soft_wrap=True)
