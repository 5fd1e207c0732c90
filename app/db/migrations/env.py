"""Alembic environment: uses the connection handed over by `app.db.session.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from app.db.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic -x url=... revision --autogenerate` from the command line
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///data/enclave.db")
    with create_engine(url).connect() as conn:
        _run(conn)
