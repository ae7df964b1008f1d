"""CLI command: ``c2c serve`` runs the governed API with uvicorn."""

from __future__ import annotations

import typer
from fastapi import FastAPI

from core.settings import get_settings


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(1, min=1, max=16, help="uvicorn worker processes."),
) -> None:
    """Serve the API (OpenAPI docs at /docs). Settings come from C2C_* variables."""
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    else:  # several processes need an import string; the factory reads the same environment
        uvicorn.run("cli.serve_cmd:app_from_environment", factory=True, host=host, port=port,
                    workers=workers, log_level="info")


def app_from_environment() -> FastAPI:
    """uvicorn factory for multi-worker runs."""
    from api.app import create_app

    return create_app(get_settings())


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
