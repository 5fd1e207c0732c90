"""The allow-list formatter: arguments, unknown fields and exception messages never reach a log."""

from __future__ import annotations

import json
import logging

from app.logs import AllowListFormatter

CANARY = "canary-7f3a-patient-record"


def format_record(**kwargs: object) -> dict:
    record = logging.LogRecord("enclave.test", logging.INFO, __file__, 1, **kwargs)  # type: ignore[arg-type]
    return json.loads(AllowListFormatter().format(record))


def test_message_arguments_are_never_interpolated():
    line = format_record(msg="question asked: %s", args=(CANARY,), exc_info=None)
    assert CANARY not in json.dumps(line)
    assert line["event"] == "question asked: %s"


def test_only_allow_listed_extra_fields_are_kept():
    record = logging.LogRecord("enclave.test", logging.INFO, __file__, 1, "search", None, None)
    record.query = CANARY
    record.document_id = "doc-1"
    record.latency_ms = 12.5
    line = json.loads(AllowListFormatter().format(record))
    assert "query" not in line
    assert CANARY not in json.dumps(line)
    assert line["document_id"] == "doc-1"
    assert line["latency_ms"] == 12.5


def test_step_timings_are_kept_as_an_object():
    record = logging.LogRecord("enclave.test", logging.INFO, __file__, 1, "done", None, None)
    record.timings_ms = {"purge": 12.5, "total": 20.0}
    line = json.loads(AllowListFormatter().format(record))
    assert line["timings_ms"] == {"purge": 12.5, "total": 20.0}


def test_exceptions_keep_type_and_place_but_not_message():
    try:
        raise ValueError(f"could not parse {CANARY}")
    except ValueError:
        import sys

        line = format_record(msg="failed", args=None, exc_info=sys.exc_info())
    assert line["exc_type"] == "ValueError"
    assert line["exc_at"]
    assert CANARY not in json.dumps(line)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(AllowListFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def test_uvicorn_logs_its_process_and_bind_address_as_fields():
    """A real uvicorn server on an ephemeral port: no unfilled placeholder reaches the log,
    and the address it bound is there, as allow-listed fields."""
    import threading
    import time

    import uvicorn

    async def app(scope, receive, send):  # never called
        raise AssertionError

    collect = Collect()
    logger = logging.getLogger("uvicorn.error")
    level = logger.level
    logger.setLevel(logging.INFO)  # (setLevel, not .level: it clears the enabled-for cache)
    logger.addHandler(collect)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        server.should_exit = True
        thread.join(timeout=30)
    finally:
        logger.removeHandler(collect)
        logger.setLevel(level)
    events = {line["event"]: line for line in collect.lines}
    assert events["server.listening"] == {
        **events["server.listening"],
        "url": f"http://127.0.0.1:{port}",
        "host": "127.0.0.1",
        "port": port,
    }
    assert events["server.started"]["pid"] == events["server.finished"]["pid"] > 0
    assert not [line for line in collect.lines if "%" in line["event"]]
