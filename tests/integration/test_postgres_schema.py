"""The Alembic migrations on real PostgreSQL: the schema matches the models, and the audit
trail is append-only there too (a trigger refuses UPDATE, DELETE and TRUNCATE)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from app import audit
from app.db.models import Base
from app.db.session import make_engine, make_session_factory, migrate

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url):
    engine = make_engine(postgres_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_migrations_match_the_models(engine):
    migrate(engine)  # a second run is a no-op
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events"],
)
def test_the_audit_trail_is_append_only(engine, statement):
    audit.record_now(make_session_factory(engine), action="collection.create", actor="u1")
    with engine.connect() as conn:
        with pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text(statement))
        conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == 1
