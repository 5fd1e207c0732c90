"""Collection references of a request resolve in one query, duplicates collapsed, inside the
caller's scope (issue 17: one query per item let a 2M-element list hold a core for minutes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db.session import make_engine, make_session_factory, migrate
from app.errors import NotFound
from app.services import collections
from retrieval.types import Scope


@pytest.fixture
def db(tmp_path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_references_resolve_in_one_query_and_collapse(db: Session) -> None:
    alpha = collections.create(db=db, name="alpha")
    bravo = collections.create(db=db, name="bravo")
    scope = Scope.of([alpha.id, bravo.id])
    statements: list[str] = []
    event.listen(db.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
    found = collections.get_many(db=db, scope=scope, refs=["alpha", alpha.id, "bravo"] * 1000)
    assert sorted(c.name for c in found) == ["alpha", "bravo"]
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_a_reference_outside_the_scope_is_not_found(db: Session) -> None:
    alpha = collections.create(db=db, name="alpha")
    collections.create(db=db, name="secret")
    with pytest.raises(NotFound, match="'secret'"):
        collections.get_many(db=db, scope=Scope.of([alpha.id]), refs=["alpha", "secret"])
    assert collections.get_many(db=db, scope=Scope.of([alpha.id]), refs=[]) == []
