"""The container image (deploy/container/Containerfile) builds on this kind of machine with no
registry, through deploy/container/build.sh (debootstrap base, wheelhouse, buildah with chroot
isolation), and what it holds runs: the CLI as the unprivileged user, the CPU torch, every
Enclave package importable, the SmolLM2 weights in place, an embedded ingest and search.

Containers are run with `buildah run --isolation chroot`: podman/crun cannot start containers
on these machines (setrlimit is refused), so the image's own process isolation is not tested.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _buildah(*args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        ["buildah", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if os.geteuid() != 0 or not (shutil.which("buildah") and shutil.which("debootstrap")):
        pytest.fail(
            "the image test needs root, buildah and debootstrap (scripts/test.sh installs them)",
            pytrace=False,
        )
    tag = f"localhost/enclave-test:{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [str(ROOT / "deploy/container/build.sh"), tag],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1700,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    yield tag
    subprocess.run(["buildah", "rmi", tag], capture_output=True, check=False)


@pytest.fixture
def container(image: str) -> Iterator[str]:
    name = _buildah("from", image).strip()
    yield name
    _buildah("rm", name)


def run(container: str, *command: str, user: str = "10001") -> str:
    return _buildah("run", "--isolation", "chroot", "--user", user, container, "--", *command)


def test_the_image_runs_enclave_as_an_unprivileged_user(container: str) -> None:
    config = _buildah("inspect", "--type", "container", "--format", "{{.OCIv1.Config}}", container)
    assert "10001" in config
    assert "enclave serve --host 0.0.0.0 --port 8000" in config.replace("[", "").replace("]", "")
    assert run(container, "id", "-u").strip() == "10001"
    assert "serve" in run(container, "enclave", "--help")
    modules = ("app.main", "ingestion.parsers", "retrieval.stores", "serving.openai_client")
    probe = (
        "import importlib, torch, ingestion.parsers as p, serving.llamacpp as l;"
        f"[importlib.import_module(m) for m in {modules + ('FlagEmbedding', 'xllamacpp')}];"
        "p.warm_up();"  # every partitioner, the PDF path's OpenCV included
        "assert torch.version.cuda is None; assert l.default_model_path().is_file();"
        "assert importlib.util.find_spec('torchvision') is None; print('ok')"
    )
    assert run(container, "python", "-c", probe).strip().endswith("ok")


def test_every_shared_library_the_venv_links_to_is_in_the_image(container: str) -> None:
    """ldd over every library installed; names with a wheel's hash are siblings in its
    `.libs` directory, loaded through the library that needs them."""
    scan = (
        'find /opt/enclave /usr/local/lib -name "*.so*" -type f | while read -r f; do '
        'ldd "$f" 2>/dev/null | grep "not found" | sed "s|^|$f |"; done'
    )
    missing = {
        line.split()[1]
        for line in run(container, "sh", "-c", scan, user="0").splitlines()
        if not re.search(r"-[0-9a-f]{8}\.so", line.split()[1])
    }
    assert missing == set()


def test_the_embedded_default_ingests_and_searches_offline_in_the_image(container: str) -> None:
    _buildah("copy", "--chown", "10001:0", container, str(ROOT / "samples"), "/var/lib/enclave/s")
    run(container, "enclave", "ingest", "/var/lib/enclave/s", "--collection", "handbook")
    found = run(container, "enclave", "search", "torque for the XJ-220 motor mounting bolts",
                "--collection", "handbook")  # fmt: skip
    assert "XJ-220" in found
