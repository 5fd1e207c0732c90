"""/auth: sign-in (the local admin's one-time link; OIDC), sign-out, and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app import audit, denials
from app.api.auth_protocol import AuthConfigOut, CollectionAccess, MeOut
from app.api.deps import PrincipalDep, RuntimeDep, SessionDep
from app.api.ratelimit import throttle
from app.auth import oidc, sessions, users
from app.db.session import transaction
from app.denials import audit_context
from app.errors import NotFound
from app.runtime import Runtime
from app.services import collections

router = APIRouter(prefix="/auth", tags=["sign-in"])
SIGN_IN = [throttle("sign_in", identified=False)]  # attempts per client address


@router.get("/config", response_model=AuthConfigOut)
def config(runtime: RuntimeDep) -> AuthConfigOut:
    settings = runtime.settings
    return AuthConfigOut(oidc=settings.auth.oidc_enabled, local_admin=settings.local_admin)


@router.get("/local", include_in_schema=False, dependencies=SIGN_IN)
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
        denials.record(request, action="auth.sign_in_failed", reason="local_link")
        return RedirectResponse("/signin?error=link", status_code=status.HTTP_303_SEE_OTHER)
    sessions.start(
        db,
        request,
        user=user,
        groups=[],
        via="local",
        lifetime_s=settings.auth.session_lifetime_s,
    )
    audit.record(
        db,
        action="auth.sign_in",
        actor=user.id,
        actor_kind="user",
        reason="local",
        context=audit_context(request),
    )
    return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/login", include_in_schema=False, dependencies=SIGN_IN)
async def oidc_login(request: Request, runtime: RuntimeDep):  # type: ignore[no-untyped-def]
    """Off to the organisation's identity provider (authorization code + PKCE)."""
    oauth = request.app.state.oauth
    if oauth is None:
        raise NotFound("sign-in through an identity provider is not configured")
    redirect_uri = runtime.settings.auth.redirect_url or str(request.url_for("oidc_callback"))
    return await oidc.redirect_to_provider(oauth, request, redirect_uri)


@router.get("/callback", name="oidc_callback", include_in_schema=False, dependencies=SIGN_IN)
async def oidc_callback(request: Request, runtime: RuntimeDep) -> RedirectResponse:
    """Back from the provider: check state, PKCE and the ID token; start an Enclave session."""
    oauth = request.app.state.oauth
    if oauth is None:
        raise NotFound("sign-in through an identity provider is not configured")
    try:
        claims = await oidc.claims_from_callback(oauth, request, runtime.settings.auth)
        await run_in_threadpool(finish_oidc_sign_in, runtime, request, claims)
    except oidc.SignInFailed as exc:
        request.session.clear()
        denials.record(request, action="auth.sign_in_failed", reason=exc.reason)
        return RedirectResponse("/signin?error=oidc", status_code=status.HTTP_303_SEE_OTHER)
    return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)


def finish_oidc_sign_in(runtime: Runtime, request: Request, claims: dict) -> None:
    settings = runtime.settings.auth
    assert settings.issuer
    with transaction(runtime.sessions) as db:
        user = users.from_claims(db, issuer=settings.issuer, claims=claims)
        if user.disabled:
            raise oidc.SignInFailed("disabled_user")
        sessions.start(
            db,
            request,
            user=user,
            groups=request.app.state.authenticator.groups(claims),
            via="oidc",
            lifetime_s=settings.session_lifetime_s,
        )
        audit.record(
            db,
            action="auth.sign_in",
            actor=user.id,
            actor_kind="user",
            reason="oidc",
            context=audit_context(request),
        )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, db: SessionDep) -> Response:
    """End this browser's session (needs the CSRF token when signed in)."""
    found = sessions.current(db, request)
    if found is not None:
        sessions.check_csrf(request)
        audit.record(
            db,
            action="auth.sign_out",
            actor=found[1].id,
            actor_kind="user",
            context=audit_context(request),
        )
    sessions.end(db, request)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=MeOut)
def me(request: Request, principal: PrincipalDep, db: SessionDep) -> MeOut:
    """The caller, its global roles and its permissions per collection."""
    names = collections.names(db=db, ids=principal.grants)
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
