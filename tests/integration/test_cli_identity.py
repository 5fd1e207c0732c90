"""The CLI acts as the local admin: it creates collections it then administers, makes API keys
for them (printed once), and prints one-time sign-in links."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.auth import api_keys
from app.cli import cli
from app.db.models import ApiKey, AuditEvent
from app.db.session import make_engine, make_session_factory
from app.settings import Settings


@pytest.fixture
def env(tmp_path, monkeypatch) -> Settings:
    for name, value in {
        "ENCLAVE_DATA_DIR": str(tmp_path),
        "ENCLAVE_EMBEDDER__KIND": "hash",
        "ENCLAVE_RERANKER__KIND": "overlap",
        "ENCLAVE_GENERATOR__KIND": "echo",
    }.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "note.txt").write_text("The badge office opens at 8 am.\n")
    return Settings()


def test_ingest_then_make_an_api_key(env: Settings):
    runner = CliRunner()
    ingested = runner.invoke(cli, ["ingest", str(env.data_dir / "note.txt"), "-c", "office"])
    assert ingested.exit_code == 0, ingested.output
    made = runner.invoke(cli, ["api-key", "-c", "office", "--write", "--name", "kiosk"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("enclave_")
    engine = make_engine(env.database_url)
    try:
        with make_session_factory(engine)() as db:
            pepper = api_keys.pepper_from(env.secret_key.get_secret_value())
            key = api_keys.authenticate(db, pepper=pepper, secret=secret)
            assert key.permissions == "read write"
            assert db.query(ApiKey).count() == 1
            actions = {e.action for e in db.query(AuditEvent)}
            assert {"document.upload", "api_key.create"} <= actions
    finally:
        engine.dispose()
    missing = runner.invoke(cli, ["api-key", "-c", "nowhere"])
    assert missing.exit_code == 1
    assert "not found" in missing.output


def test_admin_link_prints_a_one_time_link(env: Settings):
    result = CliRunner().invoke(cli, ["admin-link"])
    assert result.exit_code == 0, result.output
    assert "/auth/local?token=" in result.output


def test_python_dash_m_app_cli_runs_the_cli():
    """`python -m app.cli` is the CLI too (benchmarks start `serve` that way from a checkout)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert "serve" in done.stdout


def test_search_and_ask_print_ranked_chunks_and_a_cited_answer(env: Settings):
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["ingest", str(env.data_dir / "note.txt"), "-c", "office"]).exit_code
        == 0
    )
    found = runner.invoke(cli, ["search", "badge office", "-c", "office"])
    assert found.exit_code == 0, found.output
    assert "badge office opens" in found.stdout
    asked = runner.invoke(cli, ["ask", "When does the badge office open?", "-c", "office"])
    assert asked.exit_code == 0, asked.output
    assert "*[1] note" in asked.stdout  # the cited source, marked
    summary = " ".join(asked.stdout.split())
    assert "mode: extractive · model: extractive · reranker: overlap" in summary
    assert "The badge office opens at 8 am [1]." in asked.stdout  # the extract, cited
