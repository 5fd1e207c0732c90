"""Uploads over real HTTP: the caller is authorised before one byte of the body is read, a body
past the limit is refused without reaching the disk (whatever its Content-Length says), and a
malformed multipart body gets a clear 400 in the error envelope."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from app.settings import ServerSettings
from tests.support import create_api_key, fast_settings, live_server, sign_in

LIMIT = 2**20  # max_upload_mb=1
PATH = "/v1/collections/uploads/documents"
BOUNDARY = "enclave-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@dataclass
class Site:
    base: str
    originals: Path
    admin: httpx.Client
    writer: str  # an API key with read and write on the collection
    reader: str  # an API key with read only


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = fast_settings(
        tmp_path_factory.mktemp("uploads"), server=ServerSettings(max_upload_mb=1)
    )
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as admin:
        sign_in(admin, settings)
        admin.post("/v1/collections", json={"name": "uploads"}).raise_for_status()
        yield Site(
            base=base,
            originals=settings.originals_dir,
            admin=admin,
            writer=create_api_key(admin, ["uploads"], ("read", "write")),
            reader=create_api_key(admin, ["uploads"]),
        )


def part(name: str, filename: str | None, data: bytes) -> bytes:
    disposition = f'form-data; name="{name}"' + (
        f'; filename="{filename}"' if filename is not None else ""
    )
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def on_disk(site: Site) -> list[str]:
    return sorted(p.name for p in site.originals.iterdir()) if site.originals.exists() else []


def temp_files(site: Site) -> list[str]:
    return [name for name in on_disk(site) if name.startswith(".upload-")]


def two_gigabytes(site: Site, token: str | None = None) -> tuple[int, float]:
    """Announce a 2 GB upload and send only its first 64 KiB: the status that comes back while
    the rest is still owed, and how long it took."""
    url = urlsplit(site.base)
    head = f"POST {PATH} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: {MULTIPART}\r\n"
    head += f"Content-Length: {2 * 2**30}\r\n"
    head += f"Authorization: Bearer {token}\r\n\r\n" if token else "\r\n"
    start = part("file", "huge.bin", b"x" * 65536)[:-2]
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.encode() + start)
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), time.monotonic() - started


def test_an_anonymous_upload_is_refused_before_its_body_is_read(site: Site):
    before = on_disk(site)
    status, seconds = two_gigabytes(site)
    assert status == 401
    assert seconds < 5  # answered with ~2 GB still owed: the body was never waited for
    assert on_disk(site) == before  # and no temp file appeared
    assert two_gigabytes(site, "enclave_" + "A" * 43)[0] == 401


def test_a_reader_is_refused_before_its_body_is_read(site: Site):
    before = on_disk(site)
    status, seconds = two_gigabytes(site, site.reader)
    assert (status, seconds < 5) == (403, True)
    assert on_disk(site) == before
    with httpx.Client(base_url=site.base, headers={"Authorization": f"Bearer {site.reader}"}) as c:
        refused = c.post(PATH, files={"file": ("r.txt", b"from a reader")})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


def test_an_oversized_content_length_is_refused_at_once(site: Site):
    before = on_disk(site)
    status, seconds = two_gigabytes(site, site.writer)
    assert (status, seconds < 5) == (413, True)
    assert on_disk(site) == before


def writer(site: Site) -> httpx.Client:
    return httpx.Client(
        base_url=site.base, timeout=30, headers={"Authorization": f"Bearer {site.writer}"}
    )


def test_a_chunked_body_past_the_limit_leaves_nothing_on_disk(site: Site):
    sent = {"bytes": 0}

    def endless() -> Iterator[bytes]:  # no Content-Length: chunked, and far past the limit
        yield part("file", "stream.bin", b"")[:-2]
        while sent["bytes"] < 8 * LIMIT:
            sent["bytes"] += 65536
            yield b"y" * 65536

    before = on_disk(site)
    with writer(site) as client:
        refused = client.post(PATH, content=endless(), headers={"Content-Type": MULTIPART})
    assert refused.status_code == 413
    assert "limit" in refused.json()["error"]["message"]
    assert on_disk(site) == before


def test_a_file_past_the_limit_within_an_honest_length_is_not_written(site: Site):
    """The declared length passes the early check (the envelope allows for multipart framing),
    so the copy itself stops at the limit and deletes what it wrote."""
    before = on_disk(site)
    with writer(site) as client:
        refused = client.post(
            PATH,
            content=body(part("file", "edge.bin", b"e" * (LIMIT + 4096))),
            headers={"Content-Type": MULTIPART},
        )
    assert refused.status_code == 413
    assert on_disk(site) == before


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (body(part("note", None, b"hello")), MULTIPART, "part named 'file'"),
        (body(), MULTIPART, "part named 'file'"),
        (
            body(part("file", "a.txt", b"one"), part("file", "b.txt", b"two")),
            MULTIPART,
            "one file per request",
        ),
        (
            body(part("file", "a.txt", b"one"), part("extra", "b.txt", b"two")),
            MULTIPART,
            "one file per request",
        ),
        (body(part("file", "empty.txt", b"")), MULTIPART, "empty"),
        (body(part("file", None, b"no name")), MULTIPART, "filename"),
        (body(part("file", "", b"blank name")), MULTIPART, "filename"),
        (body(part("file", "..", b"dots")), MULTIPART, "file name"),
        (part("file", "cut.txt", b"no closing boundary"), MULTIPART, "ended early"),
        (b'{"file": "x"}', "application/json", "multipart/form-data"),
        (b"x", "multipart/form-data", "multipart/form-data"),  # no boundary
    ],
)
def test_malformed_uploads_get_a_clear_400(site: Site, content, content_type, message):
    before = on_disk(site)
    with writer(site) as client:
        response = client.post(PATH, content=content, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert message in error["message"]
    assert on_disk(site) == before


def test_uploads_still_work_and_recognise_the_same_bytes(site: Site):
    before = on_disk(site)
    with writer(site) as client:
        first = client.post(
            PATH, data={"note": "ignored"}, files={"file": ("notes.md", b"# Notes\n\nplain")}
        )
        assert first.status_code == 202, first.text
        assert first.json()["filename"] == "notes.md"
        assert first.json()["duplicate"] is False
        again = client.post(PATH, files={"file": ("copy.md", b"# Notes\n\nplain")})
    assert again.status_code == 202
    assert (again.json()["id"], again.json()["duplicate"]) == (first.json()["id"], True)
    assert len(set(on_disk(site)) - set(before)) == 1  # one original (stored under its job's id)
    assert not temp_files(site)


def test_the_openapi_document_describes_the_file_part(site: Site):
    spec = site.admin.get("/openapi.json").json()
    body_spec = spec["paths"]["/v1/collections/{collection}/documents"]["post"]["requestBody"]
    schema = body_spec["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"]
    assert schema["properties"]["file"]["format"] == "binary"


def test_slow_uploads_do_not_starve_the_rest_of_the_api(site: Site):
    """More slow uploads than the server has worker threads (anyio's default: 40) wait in their
    own pool, holding no database connection; every other request is still answered at once."""
    url = urlsplit(site.base)
    start = part("file", "slow.txt", b"s" * 1024)[:-2]
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: {MULTIPART}\r\n"
        f"Content-Length: {len(start) + 100_000}\r\nAuthorization: Bearer {site.writer}\r\n\r\n"
    )
    slow = [socket.create_connection((url.hostname, url.port), timeout=10) for _ in range(45)]
    try:
        for sock in slow:
            sock.sendall(head.encode() + start)  # ... and the rest never comes
        time.sleep(0.5)
        started = time.monotonic()
        listed = site.admin.get("/v1/collections", timeout=10)
        assert listed.status_code == 200
        assert time.monotonic() - started < 5
        status, seconds = two_gigabytes(site, site.writer)  # refused without queueing
        assert (status, seconds < 5) == (413, True)
    finally:
        for sock in slow:
            sock.close()
    deadline = time.monotonic() + 10  # the interrupted uploads clean up after themselves
    while temp_files(site) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not temp_files(site)
