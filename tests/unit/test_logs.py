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
