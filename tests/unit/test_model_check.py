"""Model checksums (app.model_check): a model file that differs from the manifest, is missing or
was added is refused in a plain sentence; without a manifest the embedded default loads
unverified and production refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.model_check import (
    MANIFEST_FORMAT,
    ModelCheckFailed,
    digest,
    models_in_use,
    verify,
)
from app.settings import Settings
from retrieval.settings import EmbedderSettings, RerankerSettings
from serving.settings import GeneratorSettings


def model_dir(root: Path) -> Path:
    """A stand-in for a cross-encoder's directory (its files are hashed, never loaded here)."""
    path = root / "tiny-reranker"
    (path / "1_Pooling").mkdir(parents=True)
    (path / "config.json").write_text('{"model_type": "bert"}')
    (path / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    (path / "1_Pooling" / "config.json").write_text("{}")
    return path


def write_manifest(root: Path, model: Path) -> Path:
    manifest = root / "manifest.json"
    entry = {"role": "reranker", "files": digest(model)}
    manifest.write_text(json.dumps({"format": MANIFEST_FORMAT, "models": {model.name: entry}}))
    return manifest


def settings_for(model: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "embedder": EmbedderSettings(kind="hash"),
        "reranker": RerankerSettings(kind="cross-encoder", model_path=model),
        "generator": GeneratorSettings(kind="echo"),
        "secret_key": "a-real-secret-for-this-test",
        "auth": {"local_admin": True},
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


def test_only_the_models_a_configuration_loads_are_checked(tmp_path: Path) -> None:
    model = model_dir(tmp_path)
    assert [(m.role, m.name) for m in models_in_use(settings_for(model))] == [
        ("reranker", "tiny-reranker")
    ]
    assert digest(model).keys() == {"config.json", "model.safetensors", "1_Pooling/config.json"}


def test_a_matching_model_passes(tmp_path: Path) -> None:
    model = model_dir(tmp_path)
    manifest = write_manifest(tmp_path, model)
    verify(settings_for(model, models={"manifest": manifest}, mode="production"))


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        (lambda m: (m / "model.safetensors").write_bytes(b"\0"), "model.safetensors differs"),
        (lambda m: (m / "1_Pooling" / "config.json").unlink(), "1_Pooling/config.json is missing"),
        (lambda m: (m / "modeling_evil.py").write_text("x = 1"), "modeling_evil.py is not in"),
    ],
)
def test_a_changed_missing_or_added_file_is_refused(tmp_path: Path, tamper, said: str) -> None:
    model = model_dir(tmp_path)
    manifest = write_manifest(tmp_path, model)
    tamper(model)
    with pytest.raises(ModelCheckFailed) as refused:
        verify(settings_for(model, models={"manifest": manifest}))
    message = str(refused.value)
    assert said in message
    assert f"The reranker model tiny-reranker at {model} does not match" in message
    assert "Restore it from the bundle" in message


def test_a_model_the_manifest_does_not_list_is_refused(tmp_path: Path) -> None:
    model = model_dir(tmp_path)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"format": MANIFEST_FORMAT, "models": {}}))
    with pytest.raises(ModelCheckFailed, match="is not listed in the checksum manifest"):
        verify(settings_for(model, models={"manifest": manifest}))


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "cannot be read"),
        ("{not json", "not valid JSON"),
        ("{}", "not a checksum manifest"),
        (json.dumps({"format": MANIFEST_FORMAT, "models": {"m": {}}}), "not a checksum manifest"),
    ],
)
def test_an_unreadable_manifest_is_refused(tmp_path: Path, content: str | None, said: str) -> None:
    manifest = tmp_path / "manifest.json"
    if content is not None:
        manifest.write_text(content)
    with pytest.raises(ModelCheckFailed, match=said):
        verify(settings_for(model_dir(tmp_path), models={"manifest": manifest}))


def test_without_a_manifest_embedded_loads_and_production_refuses(tmp_path: Path) -> None:
    model = model_dir(tmp_path)
    verify(settings_for(model))  # embedded: unverified
    with pytest.raises(ModelCheckFailed, match="There is no checksum manifest to check"):
        verify(settings_for(model, mode="production"))
    verify(settings_for(model, mode="production", models={"require_manifest": False}))
    # a configuration without model files needs no manifest, even in production
    verify(settings_for(model, mode="production", reranker=RerankerSettings(kind="overlap")))
