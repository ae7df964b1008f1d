"""``c2c``: the operator's command line. A composition root: it wires the libraries."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from cli import (
    audit_cmd,
    demo_cmd,
    extract_cmd,
    generate_cmd,
    ingest_cmd,
    keys_cmd,
    link_cmd,
    migrate_cmd,
    notify_cmd,
    partners_cmd,
    publish_cmd,
    serve_cmd,
)
from cli.errors import exit_code_for
from core.errors import C2CError
from core.private_files import restrict_umask

app = typer.Typer(
    name="c2c",
    help="c2c-link: cradle-to-career data linking service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for module in (
    demo_cmd, generate_cmd, ingest_cmd, link_cmd, publish_cmd, serve_cmd, keys_cmd,
    extract_cmd, audit_cmd, partners_cmd, migrate_cmd, notify_cmd,
):
    module.register(app)


def main() -> None:
    """Console entry point: run the app and map service errors to exit codes."""
    restrict_umask()
    try:
        app()
    except C2CError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
        sys.exit(exit_code_for(error))
