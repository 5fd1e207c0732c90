"""Erasure from the command line, offline receipt checks, and a restore that replays the
erasure log so a backup from before the erasure does not bring the document back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.db.models import Document
from app.db.session import make_engine, make_session_factory
from app.settings import Settings
from tests.integration.test_erasure import files_containing
from tests.support import FAST_ENV


@pytest.fixture
def env(tmp_path, monkeypatch) -> Settings:
    for name, value in {"ENCLAVE_DATA_DIR": str(tmp_path / "data"), **FAST_ENV}.items():
        monkeypatch.setenv(name, value)
    return Settings()


def document_ids(settings: Settings) -> list[str]:
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as db:
            return [d.id for d in db.query(Document)]
    finally:
        engine.dispose()


def test_erase_verify_backup_restore(env: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    canary = f"SUBJECT{uuid.uuid4().hex[:10]}"
    note = tmp_path / "case.txt"
    note.write_text(f"Case file of {canary}: the claim was approved.\n")
    assert runner.invoke(cli, ["ingest", str(note), "-c", "claims"]).exit_code == 0
    (doc,) = document_ids(env)
    backup = tmp_path / "backup"
    made = runner.invoke(cli, ["backup", str(backup)])
    assert made.exit_code == 0, made.output
    assert files_containing(backup, canary)  # the backup holds the document

    receipt = tmp_path / "receipt.json"
    erased = runner.invoke(cli, ["erase", doc, "--reason", "DSR-17", "--receipt", str(receipt)])
    assert erased.exit_code == 0, erased.output
    assert files_containing(env.data_dir, canary) == []
    checked = runner.invoke(cli, ["verify-receipt", str(receipt)])
    assert checked.exit_code == 0, checked.output
    assert f"document {doc}" in checked.output
    assert "for 'DSR-17'" in checked.output  # the reason is signed into the receipt

    key = tmp_path / "key.pem"
    key.write_text(runner.invoke(cli, ["receipt-key"]).stdout)
    assert (
        runner.invoke(cli, ["verify-receipt", str(receipt), "--public-key", str(key)]).exit_code
        == 0
    )
    forged = json.loads(receipt.read_text())
    forged["receipt"]["removed"]["index_points"] += 1
    receipt.write_text(json.dumps(forged))
    refused = runner.invoke(cli, ["verify-receipt", str(receipt)])
    assert refused.exit_code == 1
    assert "altered" in refused.output

    restored = runner.invoke(cli, ["restore", str(backup)])
    assert restored.exit_code == 0, restored.output
    assert "erased again: 1" in restored.output
    assert document_ids(env) == []
    assert files_containing(env.data_dir, canary) == []
    found = runner.invoke(cli, ["search", canary, "-c", "claims"])
    assert canary not in found.output
