"""The hostile requests of `test_hostile`, each a function of (base URL, API key) → status.

Run as `python -m tests.security.attacker ATTACK BASE KEY` it repeats one attack until it is
killed, RATE_PER_S times a second, in a process of its own (not sharing the test's interpreter
with the bystander whose latency is measured), printing "ready" after the first. The rate is
fixed, so that the figure measures the server, not how much of 2 shared cores a client loop
takes. Loopback only; every request bounded.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from itertools import count
from urllib.parse import urlsplit

import httpx

_sources = count(1)
RATE_PER_S = 10


def source() -> str:
    """A loopback address of the attacker's own range (the tests use 127.1.0.x)."""
    n = next(_sources)
    return f"127.2.{n // 250 % 250}.{n % 250 + 1}"


def post(base: str, key: str, path: str, body: bytes | Iterator[bytes]) -> int:
    transport = httpx.HTTPTransport(local_address=source())
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers, transport=transport, timeout=30) as c:
        return c.post(path, content=body).status_code


LIST_2M = json.dumps({"query": "x", "collections": ["alpha"] * 2_000_000}).encode()
STRING_50MB = b'{"query": "' + b"a" * 50_000_000 + b'"}'
DEEP = b'{"query": "x", "collections": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
TURNS = [{"role": "user", "content": "hello there"}] * 200_000
HISTORY_HUGE = json.dumps({"model": "enclave", "messages": TURNS}).encode()
HISTORY_101 = json.dumps({"model": "enclave", "messages": TURNS[:101]}).encode()
BLOCK = b"a" * 10_000


def chunked() -> Iterator[bytes]:
    yield b'{"query": "'
    for _ in range(5_000):  # 50 MB, if it were all read
        yield BLOCK


def slow_loris(base: str, *, headers_done: bool) -> tuple[float, bytes]:
    """Trickle a request a byte every 0.2 s; seconds until the server ends it, and its reply."""
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname, url.port), source_address=(source(), 0))
    head = b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    trickle = b"X-Slow: " + b"a" * 100
    if headers_done:
        head += b"Content-Length: 100\r\n\r\n"
        trickle = b'{"query": "' + b"a" * 89
    started = time.perf_counter()
    reply = b""
    try:
        sock.sendall(head)
        sock.settimeout(0.2)
        for byte in trickle:
            try:
                sock.sendall(bytes([byte]))
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            reply += data
            if not data:
                break
        return time.perf_counter() - started, reply
    finally:
        sock.close()


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


ATTACKS: dict[str, Callable[[str, str], int]] = {
    "list_2m": lambda base, key: post(base, key, "/v1/search", LIST_2M),
    "string_50mb": lambda base, key: post(base, key, "/v1/search", STRING_50MB),
    "chunked_50mb": lambda base, key: post(base, key, "/v1/search", chunked()),
    "deep": lambda base, key: post(base, key, "/v1/search", DEEP),
    "history_huge": lambda base, key: post(base, key, "/v1/chat/completions", HISTORY_HUGE),
    "history_101": lambda base, key: post(base, key, "/v1/chat/completions", HISTORY_101),
    "slow_headers": lambda base, _: _status(slow_loris(base, headers_done=False)[1]),
    "slow_body": lambda base, _: _status(slow_loris(base, headers_done=True)[1]),
}


def main() -> None:
    attack, base, key = sys.argv[1:4]
    run = ATTACKS[attack]
    first = True
    deadline = time.monotonic() + 120  # never outlives a test by much, even if not killed
    while time.monotonic() < deadline:
        began = time.monotonic()
        status = run(base, key)
        if first:
            sys.stdout.write(f"ready {status}\n")
            sys.stdout.flush()
            first = False
        time.sleep(max(0.0, 1 / RATE_PER_S - (time.monotonic() - began)))


if __name__ == "__main__":
    main()
