"""/auth: sign-in (the local admin's one-time link; OIDC), sign-out, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from app.api.auth_protocol import AuthConfigOut, CollectionAccess, MeOut
from app.api.deps import PrincipalDep, RuntimeDep, SessionDep
from app.auth import sessions, users
from app.db.models import Collection
from app.errors import NotFound

router = APIRouter(prefix="/auth", tags=["sign-in"])


@router.get("/config", response_model=AuthConfigOut)
def config(runtime: RuntimeDep) -> AuthConfigOut:
    settings = runtime.settings
    return AuthConfigOut(oidc=settings.auth.oidc_enabled, local_admin=settings.local_admin)


@router.get("/local", include_in_schema=False)
def local_sign_in(
    request: Request, db: SessionDep, runtime: RuntimeDep, token: str = ""
) -> RedirectResponse:
    """The local admin's one-time link (printed at start, or by `enclave admin-link`)."""
    settings = runtime.settings
    if not settings.local_admin:
        raise NotFound("the local admin is disabled")
    user = users.redeem_sign_in_token(db, token)
    if user is None:
        db.commit()  # a presented valid-but-expired token is used up all the same
        return RedirectResponse("/signin?error=link", status_code=status.HTTP_303_SEE_OTHER)
    sessions.start(
        db,
        request,
        user=user,
        groups=[],
        via="local",
        lifetime_s=settings.auth.session_lifetime_s,
    )
    db.commit()
    return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, db: SessionDep) -> Response:
    """End this browser's session (needs the CSRF token when signed in)."""
    if sessions.current(db, request) is not None:
        sessions.check_csrf(request)
    sessions.end(db, request)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut)
def me(request: Request, principal: PrincipalDep, db: SessionDep) -> MeOut:
    """The caller, its global roles and its permissions per collection."""
    names = dict(
        db.execute(
            select(Collection.id, Collection.name).where(Collection.id.in_(principal.grants))
        ).all()
    )
    access = [
        CollectionAccess(id=cid, name=names[cid], permissions=sorted(perms))
        for cid, perms in principal.grants.items()
        if cid in names and perms
    ]
    return MeOut(
        id=principal.id,
        name=principal.name,
        kind=principal.kind,
        via=principal.via,
        global_roles=sorted(principal.global_roles),
        collections=sorted(access, key=lambda c: c.name),
        csrf_token=sessions.csrf_token(request) if principal.via == "session" else None,
    )
