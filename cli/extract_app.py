"""The ``c2c extract`` command group, shared by ``cli.extract_cmd`` (build) and
``cli.extract_open_cmd`` (decrypt, verify, decryptor)."""

from __future__ import annotations

import typer

from core.keys import KeyProvider
from core.settings import Settings

extract_app = typer.Typer(
    help="Research extracts: build (operator), decrypt and verify (operator or owner).",
    no_args_is_help=True,
)


def key_provider(settings: Settings) -> KeyProvider:
    return KeyProvider(settings.master_key_path, settings.keyring_path)
