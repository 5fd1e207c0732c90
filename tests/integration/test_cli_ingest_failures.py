"""`enclave ingest` says why a file failed as the API does: a sentence with what to do, then
its code and the technical reason."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli
from tests.support import FAST_ENV


def test_a_damaged_file_is_explained_in_a_sentence(tmp_path: Path, monkeypatch) -> None:
    for name, value in {"ENCLAVE_DATA_DIR": str(tmp_path / "data"), **FAST_ENV}.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really a PDF\n")
    (tmp_path / "in" / "note.txt").write_text("The badge office opens at 8 am.\n")
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "in"), "-c", "office"])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())  # however the console wrapped it
    assert "indexed 1 (1 chunks), skipped 0 (already indexed), failed 1" in said
    assert (
        "failed broken.pdf: This file is damaged and could not be read. Open it in the program "
        "that made it, save it again and upload the new copy. [damaged: corrupt PDF ("
    ) in said
