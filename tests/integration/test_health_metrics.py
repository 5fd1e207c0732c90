"""/healthz, /readyz and /metrics over real HTTP on loopback: each dependency's state (a real
PostgreSQL database dropped under a running server, a generator on a closed port), the scrape
token, and metric families whose labels come from closed sets (route templates, never paths)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from app.settings import MetricsSettings, ServerSettings
from serving.settings import AnswerSettings, GeneratorSettings
from tests.support import fast_settings, live_server, sign_in, wait_indexed

ASK_THE_GENERATOR = AnswerSettings(mode="both")  # the default (extractive) never calls it

TOKEN = "scrape-token-0123456789abcdef"
NO_WORKER = ServerSettings(run_worker=False)  # starts in ~1 s (no parser process)


def samples(exposition: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """{sample name: [(labels, value)]} of a Prometheus text exposition."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return sum(v for got, v in found.get(name, []) if labels.items() <= got.items())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when this returns


def test_ready_then_metrics_count_routes_stages_and_states(tmp_path: Path) -> None:
    settings = fast_settings(
        tmp_path / "data", metrics=MetricsSettings(token=TOKEN), answer=ASK_THE_GENERATOR
    )
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert set(checks) == {"database", "index", "embedder", "generator"}
        assert all(c["status"] == "ok" for c in checks.values())
        assert checks["database"]["sentence"].startswith("The database is ready (")

        sign_in(http, settings)
        assert http.post("/v1/collections", json={"name": "wards"}).status_code == 201
        up = http.post(
            "/v1/collections/wards/documents",
            files={"file": ("a.md", b"# Ward\n\nThe ward opens at nine.\n", "text/markdown")},
        )
        doc = up.json()["id"]
        assert wait_indexed(http, doc)["status"] == "indexed"
        assert http.post("/v1/answer", json={"question": "When does the ward open?"}).is_success
        assert http.get("/v1/no-such-route").status_code == 404

        missing = http.get("/metrics")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "unauthenticated"
        assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        scraped = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        assert TOKEN not in scraped.text
        found = samples(scraped.text)

    requests = "enclave_http_requests_total"
    assert value(found, requests, route="/v1/answer", method="POST", status="200") == 1
    assert value(found, requests, route="/v1/documents/{document_id}", method="GET") >= 1
    assert value(found, requests, route="unmatched", status="404") == 1
    routes = {labels["route"] for labels, _ in found[requests]}
    assert doc not in " ".join(routes), "a route label is a template, never a path"
    duration = "enclave_http_request_duration_seconds_count"
    assert value(found, duration, route="/v1/answer") == 1
    for stage in ("embed", "index", "rerank", "first_token", "generate"):
        assert value(found, "enclave_stage_duration_seconds_count", stage=stage) >= 1, stage
    assert value(found, "enclave_documents", status="indexed") == 1
    assert value(found, "enclave_documents", status="failed") == 0
    assert value(found, "enclave_jobs", state="queued") == 0
    assert value(found, "enclave_erasures", state="completed") == 0
    assert value(found, "enclave_database_up") == 1
    assert value(found, "enclave_generator_in_flight") == 0


def test_generator_down_is_not_ready_and_counted(tmp_path: Path) -> None:
    port = closed_port()
    generator = GeneratorSettings(kind="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m")
    settings = fast_settings(tmp_path / "data", generator=generator, answer=ASK_THE_GENERATOR)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as http:
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["retry-after"] == "5"
        body = ready.json()
        assert body["error"]["code"] == "not_ready"
        assert body["error"]["message"] == "not ready: generator"
        assert body["checks"]["generator"]["status"] == "down"
        assert body["checks"]["generator"]["error"] == "GeneratorUnavailable"
        assert body["checks"]["generator"]["sentence"] == (
            "The generator is down (GeneratorUnavailable)."
        )
        assert body["checks"]["database"]["status"] == "ok"

        sign_in(http, settings)
        http.post("/v1/collections", json={"name": "c"})
        up = http.post(
            "/v1/collections/c/documents", files={"file": ("a.txt", b"Opening hours: nine.")}
        )
        assert wait_indexed(http, up.json()["id"])["status"] == "indexed"
        answered = http.post("/v1/answer", json={"question": "opening hours?"})
        assert answered.status_code == 503
        assert answered.json()["error"]["code"] == "upstream_unavailable"
        found = samples(http.get("/metrics").text)
    assert value(found, "enclave_generator_errors_total", kind="unavailable") == 1
    assert value(found, "enclave_http_requests_total", route="/v1/answer", status="503") == 1


@pytest.mark.postgres
def test_database_dropped_under_a_running_server_is_not_ready(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = fast_settings(tmp_path / "data", server=NO_WORKER)
    settings.database.url = postgres_url
    name = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(
        postgres_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/readyz").status_code == 200
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            ready = http.get("/readyz")
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert checks["database"]["status"] == "down"
            assert checks["database"]["error"] == "OperationalError"
            assert checks["index"]["status"] == "ok"
            assert postgres_url.split("@")[0] not in ready.text  # no credentials in the body
            assert http.get("/healthz").status_code == 200  # alive, only not ready
            scraped = http.get("/metrics")
            assert scraped.status_code == 200  # the scrape survives the database
            assert value(samples(scraped.text), "enclave_database_up") == 0
    finally:
        admin.dispose()


def test_production_without_a_token_serves_no_metrics(tmp_path: Path) -> None:
    settings = fast_settings(
        tmp_path / "data",
        mode="production",
        secret_key="s" * 64,
        auth={"local_admin": True},
        server=NO_WORKER,
    )
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as http:
        refused = http.get("/metrics")
        assert refused.status_code == 404
        assert "ENCLAVE_METRICS__TOKEN" in refused.json()["error"]["message"]
        assert http.get("/readyz").status_code == 200


def test_weak_token_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        MetricsSettings(token="short")
