"""CLI commands: ``c2c keys init | rotate | status`` (docs/deidentify.md, "Key hierarchy").

Nothing here ever prints key material: only paths, permissions and keyring entry names.
"""

from __future__ import annotations

import typer
from rich.console import Console

from core.errors import Conflict
from core.keys import KeyProvider, create_master_key
from core.settings import Settings, get_settings

keys_app = typer.Typer(
    help="Master key and keyring: create, rotate, inspect.", no_args_is_help=True
)


def _provider(settings: Settings) -> KeyProvider:
    return KeyProvider(settings.master_key_path, settings.keyring_path)


@keys_app.command("init")
def init_cmd() -> None:
    """Create the master key (C2C_MASTER_KEY_FILE, mode 0600) and the keyring's root data key.

    Refuses to overwrite an existing master key, and refuses when a keyring already exists
    (its keys were wrapped by a master key that must be restored, not replaced).
    """
    settings = get_settings()
    keys = _provider(settings)
    path = settings.master_key_path
    if path.exists():
        raise Conflict(f"master key file already exists at {path}; refusing to overwrite it")
    if keys.key_names():
        raise Conflict(
            f"keyring {settings.keyring_path} already holds keys wrapped by another master "
            "key; restore that master key file instead of creating a new one"
        )
    create_master_key(path)
    keys.warehouse_key_hex()  # creates the root data key: the keyring exists from now on
    Console(soft_wrap=True).print(
        f"created master key {path} (mode 0600) and keyring {settings.keyring_path}",
        highlight=False,
    )


@keys_app.command("rotate")
def rotate_cmd() -> None:
    """Replace the master key and re-wrap every keyring key. No data is re-encrypted."""
    settings = get_settings()
    count = _provider(settings).rotate_master_key()
    Console(soft_wrap=True).print(
        f"rotated master key {settings.master_key_path}: re-wrapped {count} keys",
        highlight=False,
    )


@keys_app.command("status")
def status_cmd() -> None:
    """Show the master key file, its permissions, and the keyring entries (names only)."""
    settings = get_settings()
    status = _provider(settings).status()
    console = Console(soft_wrap=True)
    if not status.master_key_present:
        console.print(f"master key: [red]missing[/] at {status.master_key_path} "
                      "(create one with `c2c keys init`)", highlight=False)
    else:
        mode = f"{status.master_key_mode:04o}" if status.master_key_mode is not None else "?"
        verdict = "[green]ok[/]" if status.master_key_private else "[red]readable by others[/]"
        console.print(f"master key: {status.master_key_path} mode {mode} {verdict}",
                      highlight=False)
    extracts = [n for n in status.entries if n.startswith("extract:")]
    others = [n for n in status.entries if not n.startswith("extract:")]
    console.print(f"keyring: {status.keyring_path}: {len(status.entries)} keys "
                  f"({len(extracts)} extract keys; {', '.join(others) or 'no root key yet'})",
                  highlight=False)
    if status.unreadable_entries:
        console.print(f"[red]{len(status.unreadable_entries)} keys do not unwrap under this "
                      f"master key:[/] {', '.join(status.unreadable_entries)}", highlight=False)
        raise typer.Exit(1)
    if status.entries:
        console.print("[green]every key unwraps under the current master key[/]")


def register(app: typer.Typer) -> None:
    """Add ``c2c keys ...``."""
    app.add_typer(keys_app, name="keys")
