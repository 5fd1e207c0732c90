"""The disk filling up during ingestion, as an operator meets it: a real `enclave serve` process
(the embedded default: SQLite, the qdrant-edge index and the originals all in its data
directory) whose data directory is a 64 MiB tmpfs, mounted in a mount namespace of its own
(`unshare`; as a user namespace's root when not run as root), so nothing outlives the process.
The test reaches that filesystem through `/proc/<pid>/root`.

The disk is filled (a filler file) until only a little more than the space Enclave keeps free
is left: enough to store a large document's original, not to index it. The document ends
`failed` with a reason a person understands; uploads are refused with a 507 while the disk is
full; the documents indexed before are untouched and found; the service keeps serving, even
with the last byte taken (reads answer, writes are 507s). Once space is freed, the same
document is uploaded again and indexed, and the metadata database passes SQLite's integrity
check.

Without the reserve the engine's memory-mapped writes hit the full disk and the whole process
died of SIGBUS (measured on tmpfs and on a loop-mounted ext4 before the fix).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest

from evals.bench.common import enclave_server
from evals.bench.users import upload_body, upload_marker
from tests.support import wait_indexed

pytestmark = pytest.mark.slow

COLLECTION = "reports"
DISK_MB, RESERVE_MB = 64, 16
MB = 2**20


def private_tmpfs(mountpoint: Path) -> list[str]:
    """A command prefix that runs its arguments with a tmpfs of DISK_MB at `mountpoint`, in a
    mount namespace of their own (gone with the process)."""
    if shutil.which("unshare") is None:
        pytest.fail("`unshare` (util-linux) is needed to give the server a small disk")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    mount = f'mount -t tmpfs -o size={DISK_MB}m enclave-disk "$0" && exec "$@"'
    return ["unshare", *user, "--mount", "--propagation", "private", "sh", "-c", mount,
            str(mountpoint)]  # fmt: skip


def server_env() -> dict[str, str]:
    return {
        "ENCLAVE_MIN_FREE_MB": str(RESERVE_MB),
        "ENCLAVE_EMBEDDER__KIND": "hash",
        "ENCLAVE_RERANKER__KIND": "overlap",
        "ENCLAVE_GENERATOR__KIND": "echo",
        "ENCLAVE_INGESTION__MIN_TOKENS": "64",
        "ENCLAVE_INGESTION__MAX_TOKENS": "128",
        "ENCLAVE_WORKER__POLL_INTERVAL_S": "0.2",
    }


def upload(client: httpx.Client, name: str, body: bytes) -> httpx.Response:
    files = {"file": (name, body, "text/markdown")}
    return client.post(f"/v1/collections/{COLLECTION}/documents", files=files)


def found(client: httpx.Client, marker: str) -> set[str]:
    response = client.post("/v1/search", json={"query": marker, "k": 5})
    assert response.status_code == 200, response.text
    return {hit["document_id"] for hit in response.json()["hits"]}


def fill(disk: Path, *, leave: int) -> None:
    """Add to a filler file until `leave` bytes are free."""
    with (disk / "filler").open("ab") as out:
        left = shutil.disk_usage(disk).free - leave
        while left > 0:
            left -= out.write(bytes(min(left, MB)))


def test_disk_fills_during_ingestion(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "server.log"
    wrapper = private_tmpfs(data)
    with enclave_server(data, env=server_env(), wrapper=wrapper, log_path=log) as server:
        disk = Path(f"/proc/{server.pid}/root") / data.relative_to("/")
        assert shutil.disk_usage(disk).total == DISK_MB * MB  # the server's own small disk
        with httpx.Client(base_url=server.url, timeout=60) as client:
            sign_in_from_console(client, log)
            assert client.post("/v1/collections", json={"name": COLLECTION}).status_code == 201
            before = {}
            for i in range(3):
                up = upload(client, f"before-{i}.md", upload_body(f"before-{i}.md"))
                assert up.status_code == 202, up.text
                before[up.json()["id"]] = upload_marker(f"before-{i}.md")
            for doc_id in before:
                assert wait_indexed(client, doc_id)["status"] == "indexed"

            big = upload_body("big.md", paragraphs=2000)  # ~0.9 MB; its index needs more than 2 MB
            fill(disk, leave=RESERVE_MB * MB + len(big) + 2 * MB)  # room for the original only
            up = upload(client, "big.md", big)
            assert up.status_code == 202, up.text
            failed = wait_indexed(client, up.json()["id"], timeout_s=120)
            assert failed["status"] == "failed", failed
            assert failed["error"].startswith("the index's disk is full: "), failed

            assert_full_but_serving(client, disk, before)
            fill(disk, leave=0)  # something else takes the last byte: reads go on, writes 507
            assert all(doc_id in found(client, marker) for doc_id, marker in before.items())
            key = {"name": "late", "collections": [COLLECTION], "permissions": ["read"]}
            refused = client.post("/v1/api-keys", json=key)  # SQLite: database or disk is full
            assert refused.status_code == 507, refused.text
            (disk / "filler").unlink()  # the operator frees space
            assert_recovers(client, big, failed["id"], before)
            assert integrity(disk, tmp_path / "copy") == "ok"
        assert Path(f"/proc/{server.pid}").exists()  # the same process throughout

    text = log.read_text(errors="replace")
    assert '"exc_type": "IndexFull"' in text  # the reserve refused the index's writes
    assert '"event": "disk.full", "error": "OperationalError"' in text  # SQLite's full disk
    for bad in ("internal_error", "Traceback", "Exception in ASGI"):
        assert bad not in text


def assert_full_but_serving(client: httpx.Client, disk: Path, before: dict[str, str]) -> None:
    """Uploads are refused with a 507 and leave nothing behind; the documents indexed before
    are untouched and found; answers are served."""
    refused = upload(client, "late.md", upload_body("late.md"))
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"]["code"] == "insufficient_storage"
    assert "disk is full" in refused.json()["error"]["message"]
    assert "late.md" not in {d["filename"] for d in list_documents(client)}
    assert not list((disk / "originals").glob(".upload-*"))  # no partial upload left behind
    assert client.get("/readyz").status_code == 200
    for doc_id, marker in before.items():
        assert client.get(f"/v1/documents/{doc_id}").json()["status"] == "indexed"
        assert doc_id in found(client, marker)
    question = f"What does field report {next(iter(before.values()))} say?"
    assert client.post("/v1/answer", json={"question": question}).status_code == 200


def assert_recovers(client: httpx.Client, big: bytes, doc_id: str, before: dict[str, str]) -> None:
    """With space freed, the same bytes uploaded again are indexed in full, beside the rest."""
    again = upload(client, "big.md", big)
    assert again.status_code == 202, again.text
    assert again.json()["id"] == doc_id
    indexed = wait_indexed(client, doc_id, timeout_s=120)
    assert indexed["status"] == "indexed", indexed
    assert indexed["chunks_done"] == indexed["chunks_total"] > 0
    assert doc_id in found(client, upload_marker("big.md"))
    for other, marker in before.items():
        assert other in found(client, marker)


def list_documents(client: httpx.Client) -> list[dict]:
    response = client.get(f"/v1/collections/{COLLECTION}/documents")
    assert response.status_code == 200, response.text
    return response.json()


def sign_in_from_console(client: httpx.Client, log: Path) -> None:
    """Sign in as the local admin with the one-time link the server printed at start-up (the
    test cannot open the server's SQLite database: SQLite resolves /proc/<pid>/root away)."""
    link = re.search(r"/auth/local\?token=[\w-]+", log.read_text(errors="replace"))
    assert link, "no sign-in link on the console"
    assert client.get(link.group(0), follow_redirects=False).status_code == 303
    client.headers["X-CSRF-Token"] = client.get("/auth/me").json()["csrf_token"]


def integrity(disk: Path, copy: Path) -> str:
    """SQLite's integrity check of the server's database, on a copy taken while it is idle."""
    copy.mkdir()
    for path in disk.glob("enclave.db*"):
        shutil.copy(path, copy / path.name)
    with sqlite3.connect(copy / "enclave.db") as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])
