"""``c2c``: the operator's command line. A composition root: it wires the libraries.

Start-up is kept light on purpose: ``c2c --help`` lists the commands from the table below
without importing any command module (each pulls in DuckDB, Splink, Dagster or FastAPI), and
a command's module is imported only when that command runs or shows its own help.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from cli.commands import COMMANDS
from cli.help_text import humanise_metavars

HELP = "c2c-link: cradle-to-career data linking service."



def _module_commands(module_name: str) -> dict[str, Any]:
    """The click commands one cli module registers (imports that module)."""
    module = importlib.import_module(f"cli.{module_name}")
    holder = typer.Typer()
    module.register(holder)
    # A Typer with several commands becomes a group; add a no-op callback so one command
    # still comes back as a group and its name is kept.
    holder.callback()(lambda: None)
    group = typer.main.get_command(holder)
    return dict(group.commands)  # type: ignore[attr-defined]


class LazyGroup(TyperGroup):
    """Lists commands from ``COMMANDS``; imports a command's module only to run it."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module_name, short = COMMANDS[cmd_name]
        if self._listing:  # the overview needs only the name and one line
            return typer.core.TyperCommand(name=cmd_name, help=short, callback=None)
        command = _module_commands(module_name)[cmd_name]
        humanise_metavars(command)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def build_cli() -> LazyGroup:
    cli = LazyGroup(name="c2c", help=HELP, no_args_is_help=True, rich_markup_mode="rich")
    humanise_metavars(cli)
    return cli


def full_app() -> typer.Typer:
    """Every command registered eagerly (for tests driving ``typer.testing.CliRunner``)."""
    app = typer.Typer(name="c2c", help=HELP, no_args_is_help=True,
                      pretty_exceptions_enable=False, add_completion=False)
    for module_name in dict.fromkeys(module for module, _ in COMMANDS.values()):
        importlib.import_module(f"cli.{module_name}").register(app)
    return app


def __getattr__(name: str) -> Any:
    # ``from cli.main import app`` keeps working for tests without slowing the entry point.
    if name == "app":
        return full_app()
    raise AttributeError(name)


def main() -> None:
    """Console entry point: run the commands and map service errors to exit codes."""
    from core.errors import C2CError
    from core.private_files import restrict_umask

    restrict_umask()  # every store this process creates is owner-only
    try:
        build_cli().main(prog_name="c2c", standalone_mode=True)
    except C2CError as error:
        from rich.console import Console

        from cli.errors import exit_code_for

        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
        sys.exit(exit_code_for(error))
    except Exception as error:
        from cli.errors import busy_store

        busy = busy_store(error)
        if busy is None:
            raise
        from rich.console import Console

        from cli.errors import exit_code_for

        Console(stderr=True).print(f"[bold red]error:[/] {busy}", highlight=False, markup=True)
        sys.exit(exit_code_for(busy))
