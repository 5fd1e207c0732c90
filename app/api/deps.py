"""Dependencies as `Annotated` aliases: routers declare what they need, nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.identity import LOCAL_ADMIN, Principal, readable_scope
from app.runtime import Runtime
from retrieval.types import Scope


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_db(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


def get_principal() -> Principal:
    # The embedded default's only identity until sign-in lands (issue 4).
    return LOCAL_ADMIN


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_scope(db: SessionDep, principal: PrincipalDep) -> Scope:
    return readable_scope(db=db, principal=principal)


ScopeDep = Annotated[Scope, Depends(get_scope)]
