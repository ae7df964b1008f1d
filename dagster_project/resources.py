"""Typed Dagster resources, one per dependency: the deployment's settings, the warehouse, the
keys and the governance store. Each asset and sensor names the ones it uses.

Settings are read and validated once per run or sensor evaluation (a bad ``C2C_`` variable
fails the run at its first resource use); the governance engine is built once per run and
disposed when it ends; its schema is checked, never migrated (``c2c migrate`` does that).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import PrivateAttr
from sqlalchemy.orm import Session, sessionmaker

from core.keys import KeyProvider
from core.settings import Settings, get_settings
from core.warehouse import warehouse


class DeploymentResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The settings of one deployment. ``home`` empty: read ``C2C_HOME`` (and every other
    ``C2C_`` variable) from the environment, as the CLI does."""

    home: str = ""
    _settings: Settings | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings(home=Path(self.home)) if self.home else get_settings()
        return self._settings


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The encrypted warehouse, opened for the length of one asset body (DuckDB allows one
    writing process per file, so nothing keeps it open between steps)."""

    deployment: DeploymentResource

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse(self.deployment.settings(), read_only=read_only) as con:
            yield con


class KeysResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The deployment's key provider (master key and keyring)."""

    deployment: DeploymentResource
    _provider: KeyProvider | None = PrivateAttr(default=None)

    def provider(self) -> KeyProvider:
        if self._provider is None:
            settings = self.deployment.settings()
            self._provider = KeyProvider(settings.master_key_path, settings.keyring_path)
        return self._provider


class GovernanceResource(dg.ConfigurableResource):  # type: ignore[misc]
    """The governance store's sessions; the engine is built on first use and disposed when the
    run or sensor evaluation ends."""

    deployment: DeploymentResource
    _sessions: sessionmaker[Session] | None = PrivateAttr(default=None)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        """Dispose the engine (if one was built); the next use builds a new one."""
        if self._sessions is not None:
            bind: Any = self._sessions.kw.get("bind")
            if bind is not None:
                bind.dispose()
            self._sessions = None

    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            from governance.anchor import anchor_for, session_info
            from governance.db import session_factory

            settings = self.deployment.settings()  # audit entries anchored outside the store
            self._sessions = session_factory(settings.governance_url,
                                             info=session_info(anchor_for(settings)))
        return self._sessions

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions()() as session:
            yield session


def deployment_resources(home: str = "") -> dict[str, Any]:
    """The four resources of one deployment, sharing one settings resource."""
    deployment = DeploymentResource(home=home)
    return {"deployment": deployment, "warehouse": WarehouseResource(deployment=deployment),
            "keys": KeysResource(deployment=deployment),
            "governance": GovernanceResource(deployment=deployment)}
