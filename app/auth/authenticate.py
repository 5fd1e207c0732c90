"""Who is calling: a bearer token (Enclave API key or OIDC access token) or a browser session.

Every request is authenticated here and resolved to a `Principal` from the database (so role
changes and revocations apply on the next request). No credential → 401; an invalid one → 401
with the same message whatever the reason (the reason goes to the audit trail only).
"""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.orm import Session
from starlette.requests import Request

from app import rbac
from app.auth import api_keys, sessions, users
from app.auth.tokens import Fetch, InvalidToken, JwksCache, TokenVerifier, http_fetch
from app.errors import Unauthenticated
from app.identity import Principal
from app.settings import Settings


class MissingCredentials(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("sign in, or send an API key or access token as a bearer token")
        self.reason = "no_credentials"


class Authenticator:
    def __init__(self, settings: Settings, *, fetch: Fetch = http_fetch) -> None:
        self.settings = settings
        self.fetch = fetch  # how the provider's discovery document and JWKS are fetched
        self.auth = settings.auth
        self.pepper = api_keys.pepper_from(settings.secret_key.get_secret_value())

    @cached_property
    def verifier(self) -> TokenVerifier | None:
        if not self.auth.issuer:
            return None
        jwks = JwksCache(
            issuer=self.auth.issuer,
            discovery_url=self.auth.discovery_url,
            jwks_url=self.auth.jwks_url,
            ttl_s=self.auth.jwks_cache_s,
            min_refresh_s=self.auth.jwks_min_refresh_s,
            fetch=self.fetch,
        )
        return TokenVerifier(
            issuer=self.auth.issuer,
            audience=self.auth.token_audience,
            algorithms=self.auth.algorithms,
            jwks=jwks,
            leeway_s=self.auth.leeway_s,
        )

    def principal(self, request: Request, db: Session) -> Principal:
        header = request.headers.get("authorization")
        if header is not None:
            return self.bearer(db, header)
        found = sessions.current(db, request)
        if found is None:
            raise MissingCredentials()
        session, user = found
        sessions.check_csrf(request)
        return self.for_user(db, user, groups=list(session.groups or []), via="session")

    def bearer(self, db: Session, header: str) -> Principal:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise InvalidToken("not_bearer")
        if api_keys.looks_like_key(token):
            key = api_keys.authenticate(db, pepper=self.pepper, secret=token)
            return rbac.for_api_key(key)
        if self.verifier is None:
            raise InvalidToken("no_provider")
        claims = self.verifier.verify(token)
        user = users.from_claims(db, issuer=self.verifier.issuer, claims=claims)
        if db.new or db.dirty:
            db.commit()  # a first-seen (or renamed) user is kept even when the request only reads
        if user.disabled:
            raise InvalidToken("disabled_user")
        return self.for_user(db, user, groups=self.groups(claims), via="bearer")

    def groups(self, claims: dict) -> list[str]:
        value = claims.get(self.auth.group_claim, [])
        if isinstance(value, str):
            value = [value]
        return [g for g in value if isinstance(g, str)] if isinstance(value, list) else []

    def for_user(self, db: Session, user: object, *, groups: list[str], via: str) -> Principal:
        return rbac.for_user(
            db,
            user=user,  # type: ignore[arg-type]
            groups=groups,
            group_roles=self.auth.group_roles,
            via=via,
        )
