"""Sign-in through the organisation's OIDC provider: authorization code flow with PKCE (S256),
state and nonce, via authlib's Starlette client.

authlib keeps state, nonce and the PKCE verifier in the signed session cookie between the
redirect and the callback, then checks the ID token (signature against the provider's JWKS,
iss, aud, exp, nonce). The provider's tokens are not kept: the browser gets an Enclave session.
"""

from __future__ import annotations

from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.requests import Request

from app.auth.settings import AuthSettings
from app.errors import Unauthenticated

PROVIDER = "idp"


class SignInFailed(Unauthenticated):
    def __init__(self, reason: str) -> None:
        super().__init__("sign-in failed")
        self.reason = reason


def make_oauth(settings: AuthSettings) -> OAuth | None:
    if not settings.issuer:
        return None
    oauth = OAuth()
    discovery = settings.discovery_url or (
        settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
    )
    oauth.register(
        PROVIDER,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value() if settings.client_secret else None,
        server_metadata_url=discovery,
        client_kwargs={"scope": settings.scopes, "code_challenge_method": "S256"},
    )
    return oauth


async def redirect_to_provider(oauth: OAuth, request: Request, redirect_uri: str):  # type: ignore[no-untyped-def]
    return await oauth.create_client(PROVIDER).authorize_redirect(request, redirect_uri)


async def claims_from_callback(oauth: OAuth, request: Request, settings: AuthSettings) -> dict:
    """The verified ID-token claims (plus the group claim from userinfo when the ID token
    lacks it). Raises SignInFailed with a reason code, never the provider's text."""
    client = oauth.create_client(PROVIDER)
    try:
        token = await client.authorize_access_token(request, leeway=settings.leeway_s)
    except OAuthError as exc:
        raise SignInFailed(_code(exc.error)) from None
    except Exception:  # noqa: BLE001 - a bad state, a network failure, a bad ID token
        raise SignInFailed("callback") from None
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        raise SignInFailed("no_id_token")
    if claims.get("iss") != settings.issuer:  # the same issuer bearer tokens must name
        raise SignInFailed("issuer")
    if settings.group_claim not in claims:
        try:
            extra = await client.userinfo(token=token)
        except Exception:  # noqa: BLE001 - groups are optional; sign in without them
            extra = {}
        if extra.get("sub") == claims["sub"] and settings.group_claim in extra:
            claims[settings.group_claim] = extra[settings.group_claim]
    return claims


def _code(error: object) -> str:
    text = str(error or "oauth_error")
    return text if text.replace("_", "").isalnum() and len(text) <= 64 else "oauth_error"
