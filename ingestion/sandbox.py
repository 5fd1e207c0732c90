"""Run a parse in a child process: bounded wall time and memory, no network.

One long-lived child per process (a fresh interpreter started on first use, so it shares no
threads, models or memory with the app) imports the parsers once, opts out of the network (every
non-loopback connect and name lookup raises) and limits its own address space to what the
loaded libraries take plus `memory_mb`. Each `call` sends one job and waits at most
`timeout_s`; a child that overruns, crashes or runs out of memory is killed and replaced on
the next call, and the job fails with an `InvalidDocument` naming the limit. A child whose
resident memory grew by more than `RETIRE_GROWTH_MB` after a job is retired too. Calls are
serialised by a lock (one parse at a time per sandbox). `shutdown()` stops the child.

A `ParserSandbox` is a part like any other: the runtime builds one and hands it to the pipeline
(and stops it on close). `shared()` is the one for standalone use of `ingestion.parsers`.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from ingestion.errors import IngestionError, InvalidDocument

log = logging.getLogger(__name__)

START_TIMEOUT_S = 180.0  # importing unstructured and its models: ~5-10 s on 2 cores
RETIRE_GROWTH_MB = 512  # a child whose resident memory grew more than this is replaced
MEMORY_ERROR = "parsing exceeded the memory limit"
# exceptions a child may re-raise in the parent, with their message (they never carry content)
_PASS_THROUGH: dict[str, type[Exception]] = {
    "ingestion.errors.InvalidDocument": InvalidDocument,
}


class ParserProcessError(IngestionError):
    """The parser process failed for a reason of its own (not the document's)."""


def register_pass_through(exc_type: type[Exception]) -> None:
    """Let `exc_type`, raised in the child, be raised again in the parent with its message."""
    _PASS_THROUGH[f"{exc_type.__module__}.{exc_type.__qualname__}"] = exc_type


class ParserSandbox:
    """One parser child process at a time, started on the first call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: _Child | None = None
        atexit.register(self.shutdown)

    def call(self, func: str, *args: Any, warm_up: str, timeout_s: float, memory_mb: int) -> Any:
        """`func(*args)` (a dotted name) in the parser process; `warm_up` (a dotted name) runs
        once when a child starts, before its memory limit is set."""
        with self._lock:
            if self._child is not None and not self._child.fits(warm_up, memory_mb):
                self._child.stop()
                self._child = None
            if self._child is None:
                self._child = _Child(warm_up, memory_mb)
            child = self._child
            try:
                return child.call(func, args, timeout_s)
            except BaseException:
                if not child.alive():
                    self._child = None
                raise

    def shutdown(self) -> None:
        """Stop the parser process, if any."""
        with self._lock:
            if self._child is not None:
                self._child.stop()
                self._child = None


_shared: ParserSandbox | None = None


def shared() -> ParserSandbox:
    """The process's sandbox for callers that were not given one (tests, benchmarks)."""
    global _shared
    if _shared is None:
        _shared = ParserSandbox()
    return _shared


class _Child:
    def __init__(self, warm_up: str, memory_mb: int) -> None:
        self.warm_up, self.memory_mb = warm_up, memory_mb
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-c", _ENTRY, str(to_child), str(from_child), warm_up, str(memory_mb)],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(to_child)
        os.close(from_child)
        self.requests = Connection(from_parent, readable=False)
        self.replies = Connection(to_parent, writable=False)
        if not self.replies.poll(START_TIMEOUT_S):
            self.stop()
            raise ParserProcessError("the parser process did not start in time")
        try:
            status, detail = self.replies.recv()
        except EOFError:
            self.stop()
            raise ParserProcessError(
                f"the parser process exited while starting ({self.process.returncode})"
            ) from None
        if status != "ready":
            self.stop()
            raise ParserProcessError(f"the parser process failed to start: {detail}")
        log.info("parser.started", extra={"pid": self.process.pid, "memory_mb": memory_mb})

    def fits(self, warm_up: str, memory_mb: int) -> bool:
        return self.alive() and (warm_up, memory_mb) == (self.warm_up, self.memory_mb)

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, func: str, args: tuple[Any, ...], timeout_s: float) -> Any:
        try:
            self.requests.send((func, args))
        except OSError:
            self.stop()
            raise ParserProcessError("the parser process is gone") from None
        if not self.replies.poll(timeout_s):
            self.stop(kill=True)
            log.warning("parser.timeout", extra={"timeout_s": timeout_s})
            raise InvalidDocument(f"parsing exceeded the time limit ({timeout_s:g} s)")
        try:
            status, *rest = self.replies.recv()
        except (EOFError, OSError):
            code = self.stop()
            log.warning("parser.crashed", extra={"exit_code": code})
            if code == -signal.SIGKILL:  # not us: the kernel's OOM killer
                raise InvalidDocument(MEMORY_ERROR) from None
            raise InvalidDocument(f"the parser crashed (exit code {code})") from None
        if status == "ok":
            result, retire = rest
            if retire:
                log.info("parser.retired", extra={"pid": self.process.pid})
                self.stop()
            return result
        name, message = rest
        if name == "builtins.MemoryError" or message == MEMORY_ERROR:
            self.stop(kill=True)  # its heap may be fragmented beyond use; start afresh
            raise InvalidDocument(MEMORY_ERROR)
        if name in _PASS_THROUGH:
            raise _PASS_THROUGH[name](message)
        raise ParserProcessError(f"the parser failed ({name.rsplit('.', 1)[-1]})")

    def stop(self, *, kill: bool = False) -> int | None:
        """Close the pipes and end the process (at once with `kill`); its exit code."""
        for conn in (self.requests, self.replies):
            conn.close()
        if kill:
            self.process.kill()
        try:
            return self.process.wait(5)  # idle, it exits by itself once its pipe is closed
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


# --- the child --------------------------------------------------------------------------------

_ENTRY = "import sys, ingestion.sandbox as s; s._main(sys.argv[1:])"


def _main(argv: list[str]) -> None:
    requests = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    _serve(requests, replies, argv[2], int(argv[3]))


def _serve(requests: Connection, replies: Connection, warm_up: str, memory_mb: int) -> None:
    try:
        _no_network()
        _resolve(warm_up)()
        _limit_memory(memory_mb)
    except BaseException as exc:
        replies.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    replies.send(("ready", None))
    baseline = _resident()
    while True:
        try:
            func, args = requests.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            result = _resolve(func)(*args)
            reply: tuple[Any, ...] = ("ok", result, _resident() - baseline > RETIRE_GROWTH_MB << 20)
        except BaseException as exc:
            name = f"{type(exc).__module__}.{type(exc).__qualname__}"
            reply = ("error", name, str(exc) if name in _PASS_THROUGH else "")
        try:
            replies.send(reply)
        except MemoryError:
            replies.send(("error", "builtins.MemoryError", ""))
        except OSError:  # the parent gave up on this job and closed the pipe
            return


def _resolve(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _statm(field: int) -> int:
    """Bytes from /proc/self/statm: 0 = address space, 1 = resident."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[field]) * os.sysconf("SC_PAGE_SIZE")


def _resident() -> int:
    return _statm(1)


def _limit_memory(memory_mb: int) -> None:
    used = _statm(0)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = used + memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _no_network() -> None:
    """Refuse every connection and name lookup that is not loopback (defence in depth: the
    parsers never need the network; a library that tries to download fails at once)."""
    import ipaddress

    def loopback(host: object) -> bool:
        if host is None:
            return True
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        if not isinstance(host, str):
            return False
        if host in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guard(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not loopback(host):
                raise OSError("network access is disabled in the parser process")

    def connect(self: socket.socket, address: Any) -> None:
        guard(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback(host):
            raise OSError("network access is disabled in the parser process")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
