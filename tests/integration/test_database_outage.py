"""PostgreSQL stopped and restarted under traffic, as an operator meets it: a real `enclave serve`
process on PostgreSQL (a throwaway cluster of its own), four users asking and uploading over
HTTP, the database stopped (`pg_ctl -m immediate`: connections cut mid-query), then started again.

While it is down every request gets a clear 503 `upstream_unavailable` with Retry-After (never a
500, a traceback or a cut connection) and /readyz says the database is down; once it is back,
requests succeed again without restarting Enclave. Nothing is lost: the documents indexed before
are still there and found, and every upload of the run was either refused or is indexed in full.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.settings import DatabaseSettings
from evals.bench.common import enclave_server
from evals.bench.users import Outcome, Users, upload_body, upload_marker
from tests import pg
from tests.support import create_api_key, fast_settings, sign_in, wait_indexed

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

COLLECTION = "manuals"
BEFORE = 3  # documents indexed before the outage
TRAFFIC_S, OUTAGE_S, RECOVERED_S = 2.0, 4.0, 3.0


@pytest.fixture
def cluster() -> Iterator[pg.Cluster]:
    """A cluster of this test's own (it is stopped and started; the session's is shared)."""
    with pg.cluster() as running:
        yield running


def server_env(database_url: str) -> dict[str, str]:
    return {
        "ENCLAVE_DATABASE__URL": database_url,
        "ENCLAVE_EMBEDDER__KIND": "hash",
        "ENCLAVE_RERANKER__KIND": "overlap",
        "ENCLAVE_GENERATOR__KIND": "echo",
        "ENCLAVE_WORKER__LEASE_S": "3",  # a job cut off by the outage is taken up again soon
        "ENCLAVE_WORKER__POLL_INTERVAL_S": "0.2",
        **{f"ENCLAVE_LIMITS__{name}": "" for name in ("SEARCH", "ANSWER", "UPLOAD")},
    }


def wait_ready(client: httpx.Client, *, ready: bool, timeout_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get("/readyz")
        if (response.status_code == 200) == ready or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def search_finds(client: httpx.Client, marker: str) -> set[str]:
    """The documents of the hits for `marker`."""
    response = client.post("/v1/search", json={"query": marker, "k": 5})
    assert response.status_code == 200, response.text
    return {hit["document_id"] for hit in response.json()["hits"]}


def test_postgres_stopped_and_restarted_mid_traffic(tmp_path: Path, cluster: pg.Cluster) -> None:
    data = tmp_path / "data"
    with cluster.database() as url, enclave_server(data, env=server_env(url)) as server:
        settings = fast_settings(data, database=DatabaseSettings(url=url))
        with httpx.Client(base_url=server.url, timeout=60) as admin:
            sign_in(admin, settings)
            assert admin.post("/v1/collections", json={"name": COLLECTION}).status_code == 201
            before = {}
            for i in range(BEFORE):
                name = f"before-{i}.md"
                files = {"file": (name, upload_body(name), "text/markdown")}
                up = admin.post(f"/v1/collections/{COLLECTION}/documents", files=files)
                assert up.status_code == 202, up.text
                before[up.json()["id"]] = upload_marker(name)
            for doc_id in before:
                assert wait_indexed(admin, doc_id)["status"] == "indexed"
            key = create_api_key(admin, [COLLECTION], ("read", "write"))

            users = Users(server.url, key, count=4, collection=COLLECTION, upload_every=2)
            with users:
                time.sleep(TRAFFIC_S)
                cluster.stop()
                down_at = time.monotonic()
                down = wait_ready(admin, ready=False)
                time.sleep(OUTAGE_S)
                cluster.start()
                up_at = time.monotonic()
                back = wait_ready(admin, ready=True)
                ready_at = time.monotonic()
                time.sleep(RECOVERED_S)
            outcomes = users.outcomes

            assert down.status_code == 503
            assert down.json()["checks"]["database"]["status"] == "down"
            assert int(down.headers["retry-after"]) > 0
            assert back.status_code == 200, back.text
            assert_clear_refusals(outcomes, down_at=down_at, up_at=up_at, ready_at=ready_at)
            assert_nothing_lost(admin, before, outcomes, originals=data / "originals")

    log = (data / "server.log").read_text(errors="replace")
    assert '"database.unavailable"' in log  # positive control: the outage reached the API
    for bad in ("internal_error", "Traceback", "Exception in ASGI"):
        assert bad not in log


def assert_clear_refusals(
    outcomes: list[Outcome], *, down_at: float, up_at: float, ready_at: float
) -> None:
    """Every request answered: 2xx, or a 503 `upstream_unavailable` with Retry-After; the 503s
    fall in the outage; once /readyz said ready again, every request succeeded."""
    assert outcomes, "no traffic"
    for o in outcomes:
        assert o.ok or o.status == 503, o
        if o.status == 503:
            assert o.error == "upstream_unavailable", o
            assert int(o.retry_after or 0) > 0, o
            assert down_at - 2 <= o.started <= ready_at, o  # sent while the database was down
    refused = [o for o in outcomes if down_at <= o.started <= up_at and o.status == 503]
    assert {o.op for o in refused} >= {"search", "answer", "upload"}, refused
    after = [o for o in outcomes if o.started >= ready_at]
    assert after, "no traffic after the restart"
    assert all(o.ok for o in after), [o for o in after if not o.ok]


def assert_nothing_lost(
    admin: httpx.Client, before: dict[str, str], outcomes: list[Outcome], *, originals: Path
) -> None:
    """The documents indexed before are indexed and found; each accepted upload is indexed in
    full and found, each refused one left no document; one stored original per document."""
    for doc_id, marker in before.items():
        assert admin.get(f"/v1/documents/{doc_id}").json()["status"] == "indexed"
        assert doc_id in search_finds(admin, marker)
    uploads = [o for o in outcomes if o.op == "upload"]
    accepted = [o for o in uploads if o.status == 202]
    assert accepted, "no upload went through"
    for o in accepted:
        doc = wait_indexed(admin, str(o.document), timeout_s=60)
        assert doc["status"] == "indexed", doc
        assert doc["chunks_done"] == doc["chunks_total"] > 0, doc
        assert o.document in search_finds(admin, upload_marker(str(o.filename)))
    listed = admin.get(f"/v1/collections/{COLLECTION}/documents").json()
    names = {d["filename"] for d in listed}
    refused = {o.filename for o in uploads if o.status == 503}
    assert not refused & names, refused & names
    assert len(listed) == BEFORE + len(accepted)
    stored = [p for p in originals.iterdir() if not p.name.startswith(".")]
    assert len(stored) == len(listed), "an original without its document, or one missing"
