"""schemathesis against /openapi.json with an authenticated API key (issue 17): bounded examples
per operation, fixed seed; no response may be a 5xx or slower than the time budget.

Runs the `st` CLI (schemathesis 4) against a real server on loopback, as an app's API key and
as the local admin. Marked `slow` (about 80 s on 2 cores); CI runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from app.settings import LimitSettings
from tests.support import create_api_key, fast_settings, live_server, sign_in

BUDGET_S = 10.0
MAX_EXAMPLES = 10


@pytest.mark.slow
def test_no_generated_request_gets_a_5xx_or_outlasts_the_budget(tmp_path: Path) -> None:
    limits = LimitSettings(
        budget_s=BUDGET_S, search="100000/minute", answer="100000/minute", upload="100000/minute"
    )
    settings = fast_settings(tmp_path / "data", limits=limits)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as admin:
        sign_in(admin, settings)
        assert admin.post("/v1/collections", json={"name": "alpha"}).status_code == 201
        key = create_api_key(admin, ["alpha"], ("read", "write"))
        # An app's key; then the local admin (platform admin and compliance officer: the
        # audit, erasure and role endpoints), with its session cookie and CSRF token.
        cookie = "; ".join(f"{k}={v}" for k, v in admin.cookies.items())
        csrf = admin.headers["X-CSRF-Token"]
        callers = {
            "api key": [f"Authorization: Bearer {key}"],
            "admin session": [f"Cookie: {cookie}", f"X-CSRF-Token: {csrf}"],
        }
        for caller, headers in callers.items():
            run = fuzz(base, headers, workdir=tmp_path)
            assert run.returncode == 0, (caller, run.stdout[-6000:] + run.stderr[-2000:])


def fuzz(base: str, headers: list[str], *, workdir: Path) -> subprocess.CompletedProcess[str]:
    """`st run` from `workdir` (its example database and reports stay out of the tree)."""
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "run", f"{base}/openapi.json",
        *(arg for header in headers for arg in ("--header", header)),
        "--checks", "not_a_server_error",
        "--max-response-time", str(BUDGET_S),
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "17",
        "--phases", "examples,coverage,fuzzing",
        "--workers", "1",
        "--request-timeout", "30",
        "--no-shrink",
        "--exclude-path", "/auth/logout",  # it would end the admin's session
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=900, check=False
    )
