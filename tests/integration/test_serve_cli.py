"""`enclave serve` as an operator runs it, in its own process: it logs the address it bound,
records it for `enclave admin-link` (whose link, alone on stdout and never wrapped, signs the
local admin in on that server), and forgets it on stopping. A busy port and a held index are
said at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from evals.bench import documents
from retrieval.stores.edge import EdgeVectorStore
from tests.support import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FAST = {
    "ENCLAVE_EMBEDDER__KIND": "hash",
    "ENCLAVE_RERANKER__KIND": "overlap",
    "ENCLAVE_GENERATOR__KIND": "echo",
}


def enclave(env: dict[str, str], *args: str, **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=env["ENCLAVE_DATA_DIR"],  # no stray .env file
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    return {
        **base,
        **FAST,
        "ENCLAVE_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "40",  # a narrow terminal: nothing may wrap the link
    }


@pytest.fixture
def served(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    """`enclave serve --port 0` (any free port); its stderr in a file."""
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def listening_url(log: Path, proc: subprocess.Popen) -> str:
    """The URL of the server's `server.listening` log event, once it answers there."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        events = [json.loads(line) for line in log.read_text().splitlines() if line[:1] == "{"]
        urls = [e["url"] for e in events if e["event"] == "server.listening"]
        if urls:
            try:
                if httpx.get(urls[0] + "/healthz").status_code == 200:
                    return urls[0]
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise TimeoutError(log.read_text())


def test_admin_link_names_the_running_server(served, env: dict[str, str], tmp_path: Path):
    proc, log = served
    url = listening_url(log, proc)
    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith(":8000")
    assert "%" not in log.read_text()  # no unfilled placeholder in any event

    made = enclave(env, "admin-link")
    assert made.returncode == 0, made.stderr
    link = made.stdout.removesuffix("\n")
    assert "\n" not in link  # one line, however narrow the terminal
    assert link.startswith(f"{url}/auth/local?token=")
    with httpx.Client() as browser:
        signed_in = browser.get(link, follow_redirects=False)
        assert signed_in.status_code == 303
        assert browser.get(f"{url}/auth/me").json()["name"] == "Local administrator"

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) in (0, 130)  # stopped as by Ctrl-C
    assert not (tmp_path / "server.json").exists()
    stopped = enclave(env, "admin-link")
    assert stopped.returncode == 0
    assert stopped.stdout.startswith("http://127.0.0.1:8000/auth/local?token=")
    assert "No server is running" in stopped.stderr
    given = enclave(env, "admin-link", "--url", "https://enclave.example.org")
    assert given.stdout.startswith("https://enclave.example.org/auth/local?token=")


def test_a_busy_port_is_refused_before_anything_loads(env: dict[str, str]):
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        # an embedder that cannot load: only a check made before loading it can answer
        broken = {**env, "ENCLAVE_EMBEDDER__KIND": "minilm", "ENCLAVE_EMBEDDER__MODEL_PATH": "/no"}
        done = enclave(broken, "serve", "--port", str(port))
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_a_held_index_is_said_before_the_models_load(env: dict[str, str], tmp_path: Path):
    """As with a running server: the CLI says so at once, not after loading the embedder."""
    broken = {**env, "ENCLAVE_EMBEDDER__KIND": "minilm", "ENCLAVE_EMBEDDER__MODEL_PATH": "/no"}
    with EdgeVectorStore(tmp_path / "index", dense_dim=8):
        done = enclave(broken, "search", "anything", "-c", "handbook")
    assert done.returncode == 1
    assert "in use by another Enclave process" in done.stderr
    assert "Stop `enclave serve` first" in done.stderr


def test_search_gives_the_page_and_section_of_the_matching_passage(
    env: dict[str, str], tmp_path: Path
):
    manual = tmp_path / "pump-manual.pdf"
    manual.write_bytes(
        documents.pdf(
            [
                documents.Page("Safety rules", ("Wear gloves when handling the pump.",)),
                documents.Page("Maintenance", ("Tighten the XJ-220 mounting bolts to 42 Nm.",)),
            ]
        )
    )
    wide = {**env, "COLUMNS": "200"}
    assert enclave(wide, "ingest", str(manual), "-c", "manuals").returncode == 0
    found = enclave(wide, "search", "mounting bolts torque", "-c", "manuals", "-k", "1")
    assert found.returncode == 0, found.stderr
    assert "pump-manual › Maintenance (p. 2)" in found.stdout  # the passage, not the chunk's start
