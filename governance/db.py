"""Engine, sessions and schema migrations of the governance store.

SQLite (a file under ``$C2C_HOME``) is the embedded default; PostgreSQL is what production runs
(``C2C_DATABASE_URL``). The schema is owned by the Alembic migrations shipped inside this
package and applied with :func:`upgrade`, never by ``create_all``, so both back ends always
have the same, versioned schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, *, schema: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` configured for safe concurrent writers.

    SQLite: every transaction starts with ``BEGIN IMMEDIATE`` so two writers serialise at the
    start instead of both reading a stale state and one failing at commit (SQLite ignores
    ``SELECT ... FOR UPDATE``), except sessions on :func:`read_engine`, which begin DEFERRED;
    WAL lets readers run beside the writer; foreign keys on.
    PostgreSQL: ``schema`` (optional) becomes the search path, which the tests use to get a
    fresh, disposable schema per run.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        sqlite_args: dict[str, Any] = {"timeout": 30, "check_same_thread": False}
        engine = create_engine(url, connect_args=sqlite_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so the "begin" hook below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers (see read_engine) begin DEFERRED: under WAL they take no lock at all, so a
        # slow listing never makes writers, or other readers' audit entries, wait.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY = "c2c_read_only"
WRITER = "c2c_writer"


def read_engine(engine: Engine) -> Engine:
    """``engine`` for read-only sessions: on SQLite their transactions take no write lock.

    A read-only session must not write; :func:`writer_of` gives the engine for the one write
    a read may cause (its audit entry), done in its own short transaction.
    """
    return engine.execution_options(**{READ_ONLY: True, WRITER: engine})


def writer_of(session: Session) -> Engine | None:
    """The writing engine behind a read-only session (None for a normal session)."""
    options = session.get_bind().get_execution_options()
    writer = options.get(WRITER) if options.get(READ_ONLY) else None
    return writer if isinstance(writer, Engine) else None


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations inside this package (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(target: str | Engine, revision: str = "head") -> None:
    """Bring the store at ``target`` (a URL or an engine) up to ``revision``."""
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if isinstance(target, str):
            engine.dispose()


def session_factory(url: str, *, migrate: bool = True,
                    info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """Sessions on the store at ``url``; applies pending migrations first unless told not to.

    ``info`` is given to every session (``governance.anchor.session_info`` anchors audits)."""
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return sessionmaker(engine, expire_on_commit=False, info=info or {})
