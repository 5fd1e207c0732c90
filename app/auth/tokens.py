"""OIDC access tokens (JWT) as bearer credentials, verified against the provider's JWKS.

Checked: the signature with a key from the JWKS named by the token's `kid` (required), the
algorithm against a pinned allow-list of asymmetric ones (so `none` and HS256-signed-with-the-
public-key are refused before any key is used), `iss`, `aud`, `exp`, `nbf`, `iat` with a small
leeway, and `sub`. The JWKS is cached; an unknown `kid` triggers one refresh (rate-limited, so
forged kids cannot make us hammer the provider), which is how key rotation is picked up.

joserfc is authlib's own successor JOSE library (authlib 1.7+ depends on it and delegates to it).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.errors import Unauthenticated, UpstreamUnavailable

Fetch = Callable[[str], dict]


class InvalidToken(Unauthenticated):
    """Every failure reads the same to the caller; `reason` is for the audit trail only."""

    def __init__(self, reason: str) -> None:
        super().__init__("invalid or expired credentials")
        self.reason = reason


def http_fetch(url: str) -> dict:
    with httpx.Client(timeout=5.0, follow_redirects=False) as client:
        response = client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    return body


class JwksCache:
    """The provider's signing keys: fetched lazily, kept `ttl_s`, refreshed on an unknown kid
    at most once every `min_refresh_s`."""

    def __init__(
        self,
        *,
        issuer: str,
        discovery_url: str | None = None,
        jwks_url: str | None = None,
        ttl_s: float = 3600,
        min_refresh_s: float = 30,
        fetch: Fetch = http_fetch,
    ) -> None:
        self.discovery_url = (
            discovery_url or issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        self.jwks_url = jwks_url
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self.fetch = fetch
        self._keys: KeySet | None = None
        self._fetched_at = -1e18
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> KeySet:
        """A key set holding `kid` — refreshed if needed; raises InvalidToken if it has none."""
        keys = self._current()
        if not _has(keys, kid):
            keys = self._refresh(force=True)
            if not _has(keys, kid):
                raise InvalidToken("unknown_kid")
        return keys

    def _current(self) -> KeySet:
        if self._keys is None or time.monotonic() - self._fetched_at > self.ttl_s:
            return self._refresh(force=False)
        return self._keys

    def _refresh(self, *, force: bool) -> KeySet:
        with self._lock:
            fresh = time.monotonic() - self._fetched_at < self.min_refresh_s
            if self._keys is not None and (fresh or not force and not self._stale()):
                return self._keys
            try:
                if self.jwks_url is None:
                    self.jwks_url = str(self.fetch(self.discovery_url)["jwks_uri"])
                self._keys = KeySet.import_key_set(self.fetch(self.jwks_url))  # type: ignore[arg-type]
                self._fetched_at = time.monotonic()
            except (httpx.HTTPError, ValueError, KeyError, JoseError) as exc:
                if self._keys is None:
                    raise UpstreamUnavailable(
                        "the identity provider's signing keys cannot be fetched", retry_after_s=30
                    ) from exc
            return self._keys

    def _stale(self) -> bool:
        return time.monotonic() - self._fetched_at > self.ttl_s


def _has(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str],
        jwks: JwksCache,
        leeway_s: int = 30,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self.registry = JWSRegistry(algorithms=list(algorithms))
        self.jwks = jwks
        self.claims = jwt.JWTClaimsRegistry(
            leeway=leeway_s,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    def verify(self, token: str) -> dict:
        """The token's claims if it is valid; InvalidToken (401) otherwise."""
        if token.count(".") != 2:
            raise InvalidToken("malformed")
        try:
            header = _peek_header(token)
            alg, kid = header.get("alg"), header.get("kid")
            if alg not in self.algorithms:
                raise InvalidToken("algorithm")
            if not isinstance(kid, str) or not kid:
                raise InvalidToken("no_kid")
            decoded = jwt.decode(token, self.jwks.key_for(kid), registry=self.registry)
            self.claims.validate(decoded.claims)
        except InvalidToken:
            raise
        except JoseError as exc:
            raise InvalidToken(_reason(exc)) from None
        except (ValueError, TypeError):
            raise InvalidToken("malformed") from None
        return decoded.claims


def _peek_header(token: str) -> dict:
    """The unverified JOSE header (only to choose the key and refuse an algorithm early)."""
    segment = token.split(".", 1)[0]
    header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return header


def _reason(exc: JoseError) -> str:
    """A short reason code from joserfc's error (`expired_token`, `invalid_claim`, ...)."""
    return str(getattr(exc, "error", "") or type(exc).__name__)[:64]
