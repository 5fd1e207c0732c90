"""Engine, sessions and schema migration (Alembic, run programmatically at start-up)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(
    url: str, *, echo: bool = False, pool_size: int = 5, pool_timeout_s: float = 30.0
) -> Engine:
    """An engine; on SQLite: WAL, foreign keys, secure_delete (erased rows are zeroed on disk).
    `pool_size` connections at most (no overflow); a checkout waits `pool_timeout_s`, then
    raises `sqlalchemy.exc.TimeoutError` (a 503 in the API)."""
    pool = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout_s}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, **pool)


MIGRATION_LOCK = 7_202_614  # a PostgreSQL advisory lock key: one migration at a time


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (the newest by default), in one transaction.

    On PostgreSQL the transaction first takes an advisory lock, so that API replicas and workers
    starting together migrate one after another (the later ones find nothing left to do)."""
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema down to `revision` ("base": no Enclave table left), in one transaction."""
    _run(engine, command.downgrade, revision)


def current_revision(engine: Engine) -> str | None:
    """The schema's Alembic revision (None: not migrated)."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision this Enclave migrates to."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _run(engine: Engine, step, revision: str) -> None:  # type: ignore[no-untyped-def]
    config = _config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        step(config, revision)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error: the one owner of commits
    (the API's request session is one too, `app.api.deps.get_db`)."""
    with factory() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.commit()
