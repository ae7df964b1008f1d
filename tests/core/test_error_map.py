"""Every error class has one fault (the caller's or the service's), and the API's status map
and the CLI's exit-code map agree on it (issue 17). 5xx bodies never echo the error."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.error_handlers import install
from api.errors import status_for
from cli.errors import EXIT_INTERNAL, EXIT_REJECTED, exit_code_for
from core.errors import (
    Busy,
    C2CError,
    ConfigError,
    IdentifierFound,
    IntegrityError_,
    InternalError,
    KeyError_,
    UserError,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "ingest", "linkage", "analytics", "deidentify", "governance", "synth",
            "services", "api", "dagster_project", "cli")


def _import_everything() -> None:
    """Import every module of ours, so every error class anywhere is registered."""
    for package in PACKAGES:
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)


def _all_errors() -> list[type[C2CError]]:
    _import_everything()
    found: list[type[C2CError]] = []
    todo: list[type[C2CError]] = [C2CError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


ERRORS = _all_errors()


def _bare(cls: type[C2CError]) -> C2CError:
    return cls.__new__(cls)  # the maps look at the class only; constructors differ


def test_the_walk_finds_the_classes_defined_outside_core() -> None:
    names = {c.__qualname__ for c in ERRORS}
    assert {"KeyRefused", "BadRequest", "TooLarge", "IdentifierFound", "ConfigError"} <= names


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__qualname__)
def test_http_status_and_exit_code_agree(cls: type[C2CError]) -> None:
    error = _bare(cls)
    status, exit_code = status_for(error), exit_code_for(error)
    if issubclass(cls, UserError):
        assert 400 <= status < 500 and exit_code == EXIT_REJECTED, (status, exit_code)
    else:
        assert status >= 500 and exit_code == EXIT_INTERNAL, (status, exit_code)


@pytest.mark.parametrize("cls", [KeyError_, IntegrityError_, ConfigError, IdentifierFound])
def test_service_faults_are_500_and_exit_1(cls: type[C2CError]) -> None:
    assert issubclass(cls, InternalError)
    assert status_for(_bare(cls)) == 500 and exit_code_for(_bare(cls)) == EXIT_INTERNAL


def test_busy_is_503_and_exit_1() -> None:
    assert status_for(Busy("x")) == 503 and exit_code_for(Busy("x")) == EXIT_INTERNAL


@pytest.mark.parametrize(
    ("error", "status"),
    [(KeyError_("cannot unwrap /srv/c2c/keyring.json entry extract:R1"), 500),
     (IntegrityError_("package /srv/c2c/extracts/R1.c2cx failed authentication"), 500),
     (ConfigError("invalid settings: C2C_BOARD_QUORUM"), 500),
     (Busy("warehouse /srv/c2c/warehouse.duckdb is locked by pid 4242"), 503)],
)
def test_5xx_bodies_are_generic(error: C2CError, status: int) -> None:
    app = FastAPI()
    install(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == status
    body = response.json()["error"]
    assert body["code"] == error.code
    assert "/srv/c2c" not in response.text and "C2C_" not in response.text
    assert body["message"]


def test_4xx_bodies_keep_the_message() -> None:
    app = FastAPI()
    install(app)

    @app.get("/bad")
    def bad() -> None:
        raise UserError("cohort filter on unknown variable")

    response = TestClient(app).get("/bad")
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "cohort filter on unknown variable"
