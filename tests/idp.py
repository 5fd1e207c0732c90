"""A token issuer for tests: RSA signing keys, a discovery document and a JWKS on loopback, and
a `mint()` that signs access tokens (and, for attacks, tokens signed the wrong ways)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import RSAKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class JwtIssuer:
    audience: str = "enclave-api"
    keys: dict[str, RSAKey] = field(default_factory=dict)  # published in the JWKS
    url: str = ""
    jwks_fetches: int = 0

    def add_key(self, kid: str) -> RSAKey:
        key = RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
        self.keys[kid] = key
        return key

    def claims(self, **overrides: object) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.audience,
            "sub": "user-1",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, *, kid: str = "k1", key: RSAKey | None = None, **claims: object) -> str:
        """An RS256 token signed with `key` (default: the published key `kid`)."""
        header = {"alg": "RS256", "kid": kid} if kid else {"alg": "RS256"}
        return jwt.encode(header, self.claims(**claims), key or self.keys[kid])

    def unsigned(self, **claims: object) -> str:
        """alg "none": no signature at all."""
        header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
        return f"{header}.{b64(json.dumps(self.claims(**claims)).encode())}."

    def hs256_with_public_key(self, kid: str = "k1", **claims: object) -> str:
        """The algorithm-confusion attack: HMAC keyed with the RSA public key (PEM)."""
        secret = self.keys[kid].as_pem(private=False)
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        payload = b64(json.dumps(self.claims(**claims)).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{b64(signature)}"

    def jwks(self) -> dict:
        return {"keys": [k.as_dict(private=False) for k in self.keys.values()]}


@contextmanager
def serve_issuer(issuer: JwtIssuer) -> Iterator[JwtIssuer]:
    """Serve the issuer's discovery document and JWKS on 127.0.0.1 (a real HTTP fetch)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
            elif self.path == "/jwks":
                issuer.jwks_fetches += 1
                body = issuer.jwks()
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()


# --- attacks: each must be refused -------------------------------------------------------------


def now() -> int:
    return int(time.time())


ATTACKS = {
    "alg none": lambda i: i.unsigned(groups=["card-staff"]),
    "HS256 signed with the RSA public key": lambda i: i.hs256_with_public_key(
        groups=["card-staff"]
    ),
    "forged kid (unknown key id)": lambda i: i.mint(
        kid="attacker", key=RSAKey.generate_key(2048, private=True), groups=["card-staff"]
    ),
    "forged kid (published id, attacker's key)": lambda i: i.mint(
        kid="k1", key=RSAKey.generate_key(2048, private=True), groups=["card-staff"]
    ),
    "no kid": lambda i: jwt.encode({"alg": "RS256"}, i.claims(groups=["card-staff"]), i.keys["k1"]),
    "embedded jwk header": lambda i: embedded_jwk(i),
    "expired": lambda i: i.mint(exp=now() - 120, iat=now() - 600, groups=["card-staff"]),
    "not yet valid (nbf)": lambda i: i.mint(nbf=now() + 600, groups=["card-staff"]),
    "no exp": lambda i: i.mint(exp=None, groups=["card-staff"]),
    "wrong audience": lambda i: i.mint(aud="another-api", groups=["card-staff"]),
    "no audience": lambda i: i.mint(aud=None, groups=["card-staff"]),
    "wrong issuer": lambda i: i.mint(iss="https://evil.example", groups=["card-staff"]),
    "no subject": lambda i: i.mint(sub=None, groups=["card-staff"]),
    "tampered payload (groups added after signing)": lambda i: tampered(i),
    "garbage": lambda i: "not-a-jwt",
    "five-part JWE-shaped": lambda i: "a.b.c.d.e",
    "unknown key-shaped secret": lambda i: "enclave_" + "A" * 43,
}


def embedded_jwk(issuer) -> str:
    """The attacker signs with its own key and ships the public half in the header."""
    own = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    header = {"alg": "RS256", "kid": "k1", "jwk": own.as_dict(private=False)}
    return jwt.encode(header, issuer.claims(groups=["card-staff"]), own)


def tampered(issuer) -> str:
    header, payload, signature = issuer.mint(groups=["nobody"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["card-staff", "onc-staff"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


# --- a real OIDC provider (oidc-provider-mock, a Flask app) on loopback ------------------------


@contextmanager
def oidc_provider(users: dict[str, dict]) -> Iterator[str]:
    """oidc-provider-mock on 127.0.0.1 with predefined users {sub: claims}; yields its issuer.

    It is an authlib authorization server: discovery, authorize (a form to pick the user),
    token (RS256 ID tokens, PKCE), userinfo, JWKS. Plain HTTP on loopback needs authlib's
    AUTHLIB_INSECURE_TRANSPORT, set for the duration."""
    import os

    import oidc_provider_mock
    import werkzeug.serving

    previous = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    app = oidc_provider_mock.app(
        require_nonce=True,
        user_claims=[oidc_provider_mock.User(sub=s, claims=c) for s, c in users.items()],
    )
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        if previous is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = previous
