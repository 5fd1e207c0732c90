"""Dependencies as `Annotated` aliases: routers declare what they need, nothing more.

`PrincipalDep` authenticates every request that uses it (401 without valid credentials);
`ScopeDep` is the caller's readable collections, built on the server; `require(permission)`
resolves the `{collection}` path parameter inside what the caller may see (404 otherwise) and
checks the permission on it (403); `require_role(...)` guards the global endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.audit import AuditContext
from app.auth.authenticate import Authenticator
from app.db.models import Collection
from app.db.session import transaction
from app.denials import audit_context
from app.errors import Forbidden
from app.identity import Permission, Principal
from app.runtime import Runtime
from app.services import collections, scopes
from retrieval.types import Scope


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_db(runtime: RuntimeDep) -> Iterator[Session]:
    """The request's unit of work: committed when the route returns, rolled back when it
    raises, before the response is sent (routes do not commit)."""
    with transaction(runtime.sessions) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db, scope="function")]


AuditDep = Annotated[AuditContext, Depends(audit_context)]


def get_authenticator(request: Request) -> Authenticator:
    return request.app.state.authenticator


AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]


def get_principal(request: Request, db: SessionDep, auth: AuthenticatorDep) -> Principal:
    principal = auth.principal(request, db)
    request.state.principal = principal  # for the audit trail of a later denial
    db.commit()  # end the read: waiting for its next step, a request holds no connection
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_scope(principal: PrincipalDep, db: SessionDep) -> Scope:
    """The collections the caller may read, hiding what is not (or no longer) live."""
    scope = scopes.read_scope(db=db, principal=principal)
    db.commit()  # as in get_principal: no connection held between the steps of a request
    return scope


ScopeDep = Annotated[Scope, Depends(get_scope)]


def require(permission: Permission) -> Any:
    """`Annotated[Collection, require("write")]`: the path's `{collection}`, if the caller holds
    `permission` on it. Not visible to the caller → 404; visible without it → 403."""

    def dependency(collection: str, db: SessionDep, principal: PrincipalDep) -> Collection:
        return collections.authorised(
            db=db, principal=principal, ref=collection, permission=permission
        )

    return Depends(dependency)


def require_role(*roles: str) -> Any:
    """`Annotated[Principal, require_role("platform_admin")]`: a caller with one of `roles`."""

    def dependency(principal: PrincipalDep) -> Principal:
        if not principal.has_role(*roles):
            raise Forbidden(f"this needs the {' or '.join(roles)} role")
        return principal

    return Depends(dependency)
