"""Engine, sessions and schema migrations of the governance store.

SQLite (a file under ``$C2C_HOME``) is the embedded default; PostgreSQL is what production runs
(``C2C_DATABASE_URL``). The schema is owned by the Alembic migrations shipped inside this
package and applied with :func:`upgrade`, never by ``create_all``, so both back ends always
have the same, versioned schema.

Migrating is an explicit step (``c2c migrate``, which the demo and CI run): the API, the CLI
and Dagster only check that the store is at the code's revision (:func:`require_current`) and
stop with ``SchemaOutOfDate`` naming the command when it is not. Before issue 17 the API
migrated on start-up and the Dagster resource on every call (the sensor every minute).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.errors import ConfigError


class SchemaOutOfDate(ConfigError):
    """The governance store is not at the revision this code needs: the operator runs
    ``c2c migrate`` (a service fault for whoever called: exit 1, HTTP 500)."""

    code = "schema_out_of_date"

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


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package ships at least one migration
    return head


def current_revision(engine: Engine) -> str | None:
    """The store's revision (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current(engine: Engine) -> None:
    """``SchemaOutOfDate`` unless the store is at :func:`head_revision`."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "has no schema yet" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"the governance store {state}; this version needs {head}: run `c2c migrate`"
        )


def session_factory(url: str, *, migrate: bool = False,
                    info: dict[str, Any] | None = None,
                    read_only: bool = False) -> sessionmaker[Session]:
    """Sessions on the store at ``url``, after checking its schema is current.

    ``migrate=True`` applies pending migrations first (``c2c migrate`` and test set-up only).
    ``info`` is given to every session (``governance.anchor.session_info`` anchors audits).
    ``read_only``: sessions that only read (``read_engine``): on SQLite they wait for no
    writer, so a command that only reads the store runs while the API is busy writing.
    """
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
        bind = read_engine(engine) if read_only else engine
        require_current(bind)
    except BaseException:
        engine.dispose()
        raise
    return sessionmaker(bind, expire_on_commit=False, info=info or {})
