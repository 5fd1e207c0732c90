"""An anonymous flood cannot grow the append-only audit trail without bound: refusals of
unidentified callers are one row per (client address, reason) per window, with the repeats
counted; refusals of identified callers are all recorded. A server of its own, with a 2 s
window so the test can watch windows close."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from app.auth.settings import AuthSettings
from tests.security.conftest import new_address
from tests.support import create_api_key, fast_settings, live_server, sign_in

WINDOW_S = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client]]:
    settings = fast_settings(
        tmp_path_factory.mktemp("flood"), auth=AuthSettings(denial_window_s=WINDOW_S)
    )
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as admin:
        sign_in(admin, settings)  # a platform admin: reads the trail
        admin.post("/v1/collections", json={"name": "flood"}).raise_for_status()
        yield base, admin


def caller(base: str, source: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=base, headers=headers, transport=transport, timeout=30)


def hammer(client: httpx.Client, times: int) -> None:
    for _ in range(times):
        assert client.get("/v1/collections").status_code == 401


def denials(admin: httpx.Client, since: str, client: str | None = None) -> list[dict]:
    events = admin.get("/v1/audit", params={"since": since, "action": "auth.denied"}).json()
    return [e for e in events if client is None or e["client"] == client]


def accounted(rows: list[dict]) -> int:
    """The refusals `rows` stand for: one per row written at a refusal, plus the repeats."""
    return sum((e["request_id"] is not None) + e["detail"].get("suppressed", 0) for e in rows)


def test_a_flood_of_bad_tokens_is_one_row_then_one_count(server):
    base, admin = server
    since, source = datetime.now(UTC).isoformat(), new_address()
    with caller(base, source, "not-a-jwt") as attacker:
        hammer(attacker, 40)
        (first,) = denials(admin, since, source)
        assert (first["reason"], first["actor_kind"], first["outcome"]) == (
            "no_provider",
            "anonymous",
            "denied",
        )
        assert first["detail"] == {"status": 401, "route": "/v1/collections"}
        time.sleep(WINDOW_S + 0.2)
        first_row, follow_up = denials(admin, since, source)  # reading flushed the closed window
        assert first_row == first
        assert follow_up["reason"] == "no_provider"  # no OIDC issuer is configured here
        assert follow_up["detail"] == {"suppressed": 39, "window_s": WINDOW_S, "status": 401}
        hammer(attacker, 1)
    rows = denials(admin, since, source)
    assert len(rows) == 3  # a new window, the last one's count already written
    assert accounted(rows) == 41
    assert "not-a-jwt" not in admin.get("/v1/audit/export", params={"since": since}).text


def test_the_next_window_carries_the_count_when_the_flood_goes_on(server):
    base, admin = server
    since, source = datetime.now(UTC).isoformat(), new_address()
    with caller(base, source) as attacker:  # no credentials at all
        hammer(attacker, 10)
        time.sleep(WINDOW_S + 0.2)
        hammer(attacker, 10)
    first, second = denials(admin, since, source)
    assert first["reason"] == second["reason"] == "no_credentials"
    assert "suppressed" not in first["detail"]
    assert second["detail"]["suppressed"] == 9
    assert accounted([first, second]) == 11  # the second window's 9 repeats are still open


def test_addresses_and_reasons_have_their_own_windows(server):
    base, admin = server
    since, here, there = datetime.now(UTC).isoformat(), new_address(), new_address()
    with caller(base, here) as a, caller(base, here, "enclave_" + "A" * 43) as b:
        hammer(a, 5)
        hammer(b, 5)
    with caller(base, there) as c:
        hammer(c, 5)
    rows = {
        (e["client"], e["reason"]) for e in denials(admin, since) if e["client"] in (here, there)
    }
    assert rows == {(here, "no_credentials"), (here, "unknown_key"), (there, "no_credentials")}
    assert len(denials(admin, since, here)) == 2


def test_refusals_of_identified_callers_are_all_recorded(server):
    base, admin = server
    since, source = datetime.now(UTC).isoformat(), new_address()
    key = create_api_key(admin, ["flood"])  # read only
    with caller(base, source, key) as reader:
        for _ in range(3):
            refused = reader.post("/v1/collections/flood/documents", files={"file": ("x", b"x")})
            assert refused.status_code == 403
    rows = denials(admin, since, source)
    assert [(e["reason"], e["actor_kind"]) for e in rows] == [("forbidden", "api_key")] * 3
