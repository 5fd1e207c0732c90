"""Simulated users over real HTTP: each one a thread with its own keep-alive connection, asking
(search, answer) and now and then uploading a document of its own, until stopped. Every request
becomes an `Outcome` (when it started, what it was, its status and latency, the error code or
transport failure; never content). Used by the soak benchmark and the fault tests alike.

A user's uploads are small generated documents, each with a unique marker word, so a test can
search for exactly that document afterwards (`upload_marker`).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from evals.bench.walking_skeleton import QUERIES

OPS = ("search", "answer")


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic() when the request was sent
    op: str  # search, answer or upload
    status: int  # 0: no HTTP response (transport failure)
    latency_ms: float
    error: str = ""  # the error envelope's code, or the transport exception's type
    retry_after: str | None = None
    document: str | None = None  # upload: the id returned (202)
    filename: str | None = None  # upload: the file's name (to find it, or not, afterwards)

    @property
    def ok(self) -> bool:
        return self.status in (200, 202)


def upload_marker(filename: str) -> str:
    """The unique word in the generated document `filename`."""
    return "mk" + filename.split(".")[0].replace("-", "")


def upload_body(filename: str, paragraphs: int = 6) -> bytes:
    """A small generated document (a few chunks) that holds its marker in every paragraph."""
    rng = random.Random(filename)
    words = [f"word{i}" for i in range(2000)]
    marker = upload_marker(filename)
    body = [
        " ".join([marker, *(rng.choice(words) for _ in range(60))]) + "." for _ in range(paragraphs)
    ]
    return f"# Field report {marker}\n\n".encode() + "\n\n".join(body).encode()


class Users:
    """`count` users calling `url` with the bearer `key` on `collection`. Each loops over the
    question list from its own offset: a search, an answer, and every `upload_every`-th round an
    upload (0: never), pausing `pause_s` between requests."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        count: int,
        collection: str,
        upload_every: int = 5,
        pause_s: float = 0.0,
        timeout_s: float = 60.0,
    ) -> None:
        self.url, self.key, self.collection = url, key, collection
        self.count, self.upload_every, self.pause_s = count, upload_every, pause_s
        self.timeout_s = timeout_s
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._user, args=(i,), name=f"user-{i}", daemon=True)
            for i in range(count)
        ]

    def start(self) -> Users:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Outcome]:
        """Stop every user after its current request; returns the outcomes in start order."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout_s + 10)
        with self._lock:
            return sorted(self.outcomes, key=lambda o: o.started)

    def __enter__(self) -> Users:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _user(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=self.timeout_s) as client:
            for round_ in itertools.count():
                question = QUERIES[(number + round_) % len(QUERIES)]
                for op in OPS:
                    if not self._once(client, op, question):
                        return
                if self.upload_every and round_ % self.upload_every == self.upload_every - 1:
                    name = f"u{number}-{uuid.uuid4().hex[:10]}.md"
                    if not self._once(client, "upload", name):
                        return

    def _once(self, client: httpx.Client, op: str, arg: str) -> bool:
        """Send one request and record it; False once the users are stopped."""
        if self._stop.is_set():
            return False
        started = time.monotonic()
        outcome = _send(client, op, arg, self.collection)
        latency_ms = (time.monotonic() - started) * 1000
        with self._lock:
            self.outcomes.append(Outcome(started=started, latency_ms=latency_ms, **outcome))
        return not self._stop.wait(self.pause_s) if self.pause_s else not self._stop.is_set()


def _send(client: httpx.Client, op: str, arg: str, collection: str) -> dict[str, Any]:
    try:
        if op == "upload":
            files = {"file": (arg, upload_body(arg), "text/markdown")}
            response = client.post(f"/v1/collections/{collection}/documents", files=files)
        elif op == "search":
            response = client.post("/v1/search", json={"query": arg, "k": 5})
        else:
            response = client.post("/v1/answer", json={"question": arg})
    except httpx.HTTPError as exc:
        return {"op": op, "status": 0, "error": type(exc).__name__}
    out: dict[str, Any] = {"op": op, "status": response.status_code}
    out["retry_after"] = response.headers.get("retry-after")
    body = _json(response)
    if response.status_code >= 400:
        out["error"] = str((body.get("error") or {}).get("code", "")) or "no envelope"
    if op == "upload":
        out["filename"] = arg
        out["document"] = body.get("id") if response.status_code == 202 else None
    return out


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
