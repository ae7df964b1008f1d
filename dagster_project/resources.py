"""Dagster resources built from core settings; nothing is hard-coded to a path."""


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


class C2CResource(dg.ConfigurableResource):  # type: ignore[misc]
    """Settings, keys and stores of one c2c-link deployment.

    ``home`` empty means: read ``C2C_HOME`` (and every other ``C2C_`` variable) from the
    environment, as the CLI does.

    Settings are read and validated once, and the governance store's engine is built once, per
    run or sensor evaluation (``setup_for_execution``) and disposed when it ends
    (``teardown_after_execution``); the store's schema is checked, never migrated (``c2c
    migrate`` does that). Before issue 17 every call built a new engine, ran the migrations
    and never disposed the engine; the 60-second sensor did so on every tick.
    """

    home: str = ""
    _settings: Settings | None = PrivateAttr(default=None)
    _sessions: sessionmaker[Session] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._settings = self._read_settings()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        """Dispose the governance engine (if one was built); the next use builds a new one."""
        if self._sessions is not None:
            bind: Any = self._sessions.kw.get("bind")
            if bind is not None:
                bind.dispose()
            self._sessions = None

    def _read_settings(self) -> Settings:
        # validated here, so a bad C2C_ variable fails the run at its first resource use
        return get_settings(home=Path(self.home)) if self.home else get_settings()

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self._read_settings()
        return self._settings

    def key_provider(self) -> KeyProvider:
        settings = self.settings()
        return KeyProvider(settings.master_key_path, settings.keyring_path)

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The encrypted warehouse, opened for writing for the length of one asset body."""
        with warehouse(self.settings()) as con:
            yield con

    def sessions(self) -> sessionmaker[Session]:
        """The governance store's session factory, built on first use."""
        if self._sessions is None:
            from governance.anchor import anchor_for, session_info
            from governance.db import session_factory

            settings = self.settings()  # audit entries anchored outside the store
            self._sessions = session_factory(settings.governance_url,
                                             info=session_info(anchor_for(settings)))
        return self._sessions

    @contextmanager
    def governance(self) -> Iterator[Session]:
        with self.sessions()() as session:
            yield session
