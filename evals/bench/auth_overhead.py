"""Authorisation overhead per request: each way of calling against an unauthenticated baseline,
in the same process, on the same app and data.

The baseline replaces authentication with a fixed principal (a dependency override), so the
route, its database reads and the retrieval are identical; the difference is authentication
(API key hash lookup, JWT signature + claims, or session lookup + CSRF) plus the per-request
role resolution from the database. Requests of all modes are interleaved (round-robin, order
shuffled each round) so that machine noise hits every mode alike.

Two measurements:
- end to end: p50 latency of whole requests through the ASGI app (TestClient, no network),
  and its ratio to the baseline's;
- the dependency alone: `Authenticator.principal()` on a real request, in microseconds.

    .venv/bin/python -m evals.bench.auth_overhead --requests 1000
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.requests import Request

from app import rbac
from app.api.deps import get_principal
from app.auth import api_keys, users
from app.auth.authenticate import Authenticator
from app.auth.settings import AuthSettings
from app.identity import Principal
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.settings import ServerSettings, Settings
from retrieval.settings import EmbedderSettings, RerankerSettings
from serving.settings import GeneratorSettings

ISSUER = "https://idp.bench.invalid"
AUDIENCE = "enclave-api"
DOC = "\n\n".join(
    f"## Section {i}\n\nThe pump model XJ-{i:03d} needs a torque of {i % 40 + 10} Nm on its "
    "mounting bolts; replace the battery every 24 months and log error code E31."
    for i in range(60)
)
ROUTES: dict[str, dict[str, Any]] = {
    "GET /v1/collections": {"method": "GET", "url": "/v1/collections"},
    "POST /v1/search": {
        "method": "POST",
        "url": "/v1/search",
        "json": {"query": "torque XJ-017 mounting bolts", "k": 5},
    },
}


def bench_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        embedder=EmbedderSettings(kind="hash"),
        reranker=RerankerSettings(kind="overlap"),
        generator=GeneratorSettings(kind="echo"),
        auth=AuthSettings(
            issuer=ISSUER, audience=AUDIENCE, group_roles={"staff": ["reader:handbook"]}
        ),
        server=ServerSettings(run_worker=False),
    )


class Bench:
    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        self.runtime = runtime
        self.key = RSAKey.generate_key(2048, parameters={"kid": "bench"}, private=True)
        jwks = {"keys": [self.key.as_dict(private=False)]}

        def fetch(url: str) -> dict:  # the provider in-process: fetched once, then cached
            return {"jwks_uri": ISSUER + "/jwks"} if "well-known" in url else jwks

        self.app = create_app(settings, runtime=runtime)
        self.auth = Authenticator(settings, fetch=fetch)
        self.app.state.authenticator = self.auth
        self.client = TestClient(self.app, base_url="http://127.0.0.1")
        self.headers: dict[str, dict[str, str]] = {}
        self.cookies: dict[str, str] = {}

    def set_up(self) -> Principal:
        """Sign in, create a collection with a document, an API key and a JWT; returns the
        principal the baseline uses (the API key's, resolved once)."""
        client = self.client
        link = users.local_sign_in_link(self.runtime.sessions, base_url="", ttl_s=600)
        assert client.get(link, follow_redirects=False).status_code == 303
        session = {"X-CSRF-Token": client.get("/auth/me").json()["csrf_token"]}
        client.post("/v1/collections", json={"name": "handbook"}, headers=session)
        upload = client.post(
            "/v1/collections/handbook/documents",
            files={"file": ("manual.md", DOC.encode())},
            headers=session,
        )
        upload.raise_for_status()
        while self.runtime.worker().run_once():
            pass
        created = client.post(
            "/v1/api-keys", json={"name": "bench", "collections": ["handbook"]}, headers=session
        )
        key = created.json()["key"]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "bench",
            "groups": ["staff"],
        }
        claims |= {"iat": now, "nbf": now, "exp": now + 3600}
        token = jwt.encode({"alg": "RS256", "kid": "bench"}, claims, self.key)
        self.cookies = dict(client.cookies)
        client.cookies.clear()
        self.headers = {
            "baseline": {},
            "api_key": {"Authorization": f"Bearer {key}"},
            "jwt": {"Authorization": f"Bearer {token}"},
            "session": session,
        }
        with self.runtime.sessions() as db:
            return rbac.for_api_key(api_keys.authenticate(db, pepper=self.auth.pepper, secret=key))

    def one(self, mode: str, route: dict, fixed: Principal) -> float:
        if mode == "baseline":
            self.app.dependency_overrides[get_principal] = lambda: fixed
        elif mode == "session":
            self.client.cookies.update(self.cookies)
        started = time.perf_counter()
        response = self.client.request(**route, headers=self.headers[mode])
        elapsed = (time.perf_counter() - started) * 1000
        self.app.dependency_overrides.clear()
        self.client.cookies.clear()
        assert response.status_code == 200, (mode, response.text)
        return elapsed

    def dependency_us(self, mode: str, n: int) -> float:
        """`Authenticator.principal()` alone on a real request (p50, microseconds)."""
        headers = [(k.lower().encode(), v.encode()) for k, v in self.headers[mode].items()]
        if mode == "session":
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            headers.append((b"cookie", cookie.encode()))
        # The session middleware decodes the cookie before the dependency runs: do the same.
        scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": headers}
        if mode == "session":
            scope["session"] = _decode_session(self.app, self.cookies)
        samples = []
        with self.runtime.sessions() as db:
            for _ in range(n):
                started = time.perf_counter()
                self.auth.principal(Request(scope), db)
                samples.append((time.perf_counter() - started) * 1e6)
        return statistics.median(samples)


def _decode_session(app, cookies: dict[str, str]) -> dict:  # type: ignore[no-untyped-def]
    import base64
    import json

    from itsdangerous import TimestampSigner

    from app.auth import sessions
    from app.auth.secrets import derive

    secret = derive(app.state.runtime.settings.secret_key.get_secret_value(), "session-cookie")
    data = TimestampSigner(secret.hex()).unsign(cookies[sessions.COOKIE].encode())
    return json.loads(base64.b64decode(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per mode and route")
    args = parser.parse_args()
    modes = ["baseline", "api_key", "jwt", "session"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        runtime = build_runtime(settings)
        bench = Bench(runtime, settings)
        try:
            with bench.client:
                fixed = bench.set_up()
                print(f"{args.requests} requests per mode and route, interleaved; in-process\n")
                print(
                    f"{'route':22} {'mode':9} {'p50 ms':>7} {'p95 ms':>7} {'ratio':>6} {'+ms':>6}"
                )
                for name, route in ROUTES.items():
                    samples: dict[str, list[float]] = {m: [] for m in modes}
                    for _ in range(20):  # warm-up
                        for mode in modes:
                            bench.one(mode, route, fixed)
                    for _ in range(args.requests):
                        random.shuffle(modes)
                        for mode in modes:
                            samples[mode].append(bench.one(mode, route, fixed))
                    base = statistics.median(samples["baseline"])
                    for mode in ("baseline", "api_key", "jwt", "session"):
                        p50 = statistics.median(samples[mode])
                        p95 = statistics.quantiles(samples[mode], n=20)[-1]
                        extra = "" if mode == "baseline" else f"{p50 / base:6.2f} {p50 - base:6.2f}"
                        print(f"{name:22} {mode:9} {p50:7.2f} {p95:7.2f} {extra}")
                print("\nthe dependency alone (authenticate + resolve roles), p50:")
                for mode in ("api_key", "jwt", "session"):
                    print(f"  {mode:9} {bench.dependency_us(mode, args.requests):8.0f} µs")
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
