"""OpenAIChatGenerator against a tiny OpenAI-style HTTP server on a real loopback socket."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serving.errors import GeneratorRejected, GeneratorUnavailable
from serving.openai_client import OpenAIChatGenerator, retry_after
from serving.protocols import Message

CANARY = "CANARY-7f3a-prompt-text"
MESSAGES = [Message("system", "rules"), Message("user", f"question {CANARY}")]

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.server.seen.append(("GET", self.path, dict(self.headers), None))
        self.server.behaviour(self)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(("POST", self.path, dict(self.headers), body))
        self.server.behaviour(self)


class FakeServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 whose answers a test scripts with a behaviour."""

    daemon_threads = True

    def __init__(self, behaviour: Behaviour, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.behaviour = behaviour
        self.seen: list[tuple] = []
        self.broken = threading.Event()  # a write failed: the client went away
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], FakeServer]]:
    """Start fake servers for a test; they are stopped after it."""
    servers: list[FakeServer] = []

    def start(behaviour: Behaviour) -> FakeServer:
        servers.append(FakeServer(behaviour))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _json(handler: BaseHTTPRequestHandler, status: int, body: object, **headers: str) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(data)


def _chunk(content: str | None = None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    event = {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(event)}\n\n".encode()


def _sse(events: list[bytes], *, pause_s: float = 0.0) -> Behaviour:
    """An SSE answer (no Content-Length: the body ends when the connection closes)."""

    def behave(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "GET":
            _json(handler, 200, {"object": "list", "data": [{"id": "tiny-model"}]})
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        try:
            for event in events:
                handler.wfile.write(event)
                handler.wfile.flush()
                time.sleep(pause_s)
        except (BrokenPipeError, ConnectionResetError):
            handler.server.broken.set()  # type: ignore[attr-defined]

    return behave


HAPPY = [
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}\n\n',
    b": ping\n\n",
    _chunk("The torque "),
    _chunk("is 42 Nm [1]."),
    _chunk(finish="stop"),
    b"data: [DONE]\n\n",
]


def test_streams_deltas_and_resolves_the_model_once(serve):
    server = serve(_sse(HAPPY))
    generator = OpenAIChatGenerator(server.url, api_key="s3cret")
    for _ in range(2):
        deltas = list(generator.stream(MESSAGES, max_tokens=32, temperature=0.1))
        assert deltas == ["The torque ", "is 42 Nm [1]."]
    assert generator.name == "tiny-model"
    assert [(method, path) for method, path, _, _ in server.seen] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/chat/completions"),
    ]
    generator.close()


def test_request_shape_and_bearer_key(serve):
    server = serve(_sse(HAPPY))
    generator = OpenAIChatGenerator(server.url, model="served", api_key="s3cret")
    list(generator.stream(MESSAGES, max_tokens=32, temperature=0.1))
    [(method, path, headers, body)] = server.seen
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert headers["Authorization"] == "Bearer s3cret"
    assert body == {
        "model": "served",
        "max_tokens": 32,
        "temperature": 0.1,
        "stream": True,
        "messages": [
            {"role": "system", "content": "rules"},
            {"role": "user", "content": f"question {CANARY}"},
        ],
    }


def _failing(status: int, body: object, **headers: str) -> Behaviour:
    return lambda handler: _json(handler, status, body, **headers)


def _stream_error(generator: OpenAIChatGenerator) -> GeneratorUnavailable:
    with pytest.raises(GeneratorUnavailable) as caught:
        list(generator.stream(MESSAGES, max_tokens=8, temperature=0.0))
    error = caught.value
    assert CANARY not in str(error)
    assert CANARY not in repr(error.__cause__)
    return error


def test_503_with_retry_after_is_unavailable_and_not_retried(serve):
    busy = {"error": {"message": f"busy {CANARY}", "type": "overloaded"}}
    server = serve(_failing(503, busy, Retry_After="7"))
    error = _stream_error(OpenAIChatGenerator(server.url, model="m"))
    assert type(error) is GeneratorUnavailable
    assert error.retry_after_s == 7.0
    assert "503" in str(error)
    assert "overloaded" in str(error)
    assert len(server.seen) == 1


def test_429_is_unavailable_and_400_is_rejected_without_echoing_the_message(serve):
    busy = serve(_failing(429, {"error": {"type": "rate_limit"}}))
    assert type(_stream_error(OpenAIChatGenerator(busy.url, model="m"))) is GeneratorUnavailable
    echo = {"error": {"message": f"bad prompt: {CANARY}", "type": "BadRequestError", "code": 400}}
    bad = serve(_failing(400, echo))
    rejected = _stream_error(OpenAIChatGenerator(bad.url, model="m"))
    assert isinstance(rejected, GeneratorRejected)
    assert rejected.status == 400
    assert "BadRequestError" in str(rejected)


def test_401_from_the_models_lookup_is_rejected(serve):
    server = serve(_failing(401, {"error": "no"}))
    error = _stream_error(OpenAIChatGenerator(server.url, api_key="wrong"))
    assert isinstance(error, GeneratorRejected)
    assert error.status == 401


def test_connection_closed_without_a_response_is_unavailable(serve):
    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    server = serve(hang_up)
    error = _stream_error(OpenAIChatGenerator(server.url, model="m"))
    assert "RemoteProtocolError" in str(error)
    assert len(server.seen) == 1  # a request that reached the server is not retried


def test_stream_cut_short_raises_after_the_deltas_it_got(serve):
    generator = OpenAIChatGenerator(serve(_sse(HAPPY[:3])).url, model="m")
    stream = generator.stream(MESSAGES, max_tokens=8, temperature=0.0)
    assert next(stream) == "The torque "
    with pytest.raises(GeneratorUnavailable, match="ended before"):
        next(stream)


def test_error_event_mid_stream_is_unavailable(serve):
    event = {"error": {"message": CANARY, "type": "InternalServerError", "code": 500}}
    server = serve(_sse([_chunk("a"), f"data: {json.dumps(event)}\n\n".encode()]))
    error = _stream_error(OpenAIChatGenerator(server.url, model="m"))
    assert "InternalServerError" in str(error)


def test_read_timeout_mid_stream_is_unavailable(serve):
    server = serve(_sse(HAPPY, pause_s=1.0))
    generator = OpenAIChatGenerator(server.url, model="m", timeout_s=0.3)
    started = time.monotonic()
    assert "stopped responding" in str(_stream_error(generator))
    assert time.monotonic() - started < 1.5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_retried_then_unavailable():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    generator = OpenAIChatGenerator(url, model="m", connect_attempts=2, connect_backoff_s=0.01)
    error = _stream_error(generator)
    assert "cannot reach" in str(error)
    assert "ConnectError" in str(error)


def test_connection_phase_retry_reaches_a_server_that_comes_up_late():
    port = _free_port()
    started: list[FakeServer] = []
    timer = threading.Timer(0.2, lambda: started.append(FakeServer(_sse(HAPPY), port)))
    timer.start()
    generator = OpenAIChatGenerator(
        f"http://127.0.0.1:{port}/v1", model="m", connect_attempts=8, connect_backoff_s=0.1
    )
    try:
        text = "".join(generator.stream(MESSAGES, max_tokens=8, temperature=0.0))
    finally:
        timer.join()
        for server in started:
            server.stop()
    assert text == "The torque is 42 Nm [1]."


def test_closing_the_iterator_disconnects_from_the_server(serve):
    server = serve(_sse([_chunk(f"w{i} ") for i in range(500)], pause_s=0.02))
    stream = OpenAIChatGenerator(server.url, model="m").stream(
        MESSAGES, max_tokens=8, temperature=0.0
    )
    assert next(stream) == "w0 "
    stream.close()
    assert server.broken.wait(5), "the server kept streaming to a closed connection"


def test_retry_after_forms():
    assert retry_after("12") == 12.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
