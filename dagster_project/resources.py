"""Dagster resources built from core settings; nothing is hard-coded to a path."""


from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from sqlalchemy.orm import Session

from core.keys import KeyProvider
from core.settings import Settings
from core.warehouse import warehouse


class C2CResource(dg.ConfigurableResource):  # type: ignore[misc]
    """Settings, keys and stores of one c2c-link deployment.

    ``home`` empty means: read ``C2C_HOME`` (and every other ``C2C_`` variable) from the
    environment, as the CLI does.
    """

    home: str = ""

    def settings(self) -> Settings:
        return Settings(home=Path(self.home)) if self.home else Settings()

    def key_provider(self) -> KeyProvider:
        settings = self.settings()
        return KeyProvider(settings.master_key_path, settings.keyring_path)

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The encrypted warehouse, opened for writing for the length of one asset body."""
        with warehouse(self.settings()) as con:
            yield con

    @contextmanager
    def governance(self) -> Iterator[Session]:
        from governance.anchor import anchor_for, session_info
        from governance.db import session_factory

        settings = self.settings()
        factory = session_factory(settings.governance_url,
                                  info=session_info(anchor_for(settings)))
        with factory() as session:
            yield session
