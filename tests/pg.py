"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temp dir, on a free loopback
port, as an unprivileged user (PostgreSQL refuses to run as root: under root the server runs as
the `postgres` user Debian's package creates, or `nobody`).

The binaries come from ``ENCLAVE_TEST_PG_BIN``, else ``PATH``, else Debian's
``/usr/lib/postgresql/<version>/bin``. Missing binaries are an error, never a skip.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: `apt-get install -y postgresql` "
    "(scripts/test.sh does this) or point ENCLAVE_TEST_PG_BIN at their directory"
)


def find_bin_dir() -> Path:
    """The directory holding initdb and pg_ctl (the newest Debian version when several)."""
    candidates: list[Path] = []
    if configured := os.environ.get("ENCLAVE_TEST_PG_BIN"):
        candidates.append(Path(configured))
    if on_path := shutil.which("initdb"):
        candidates.append(Path(on_path).resolve().parent)

    def version(p: Path) -> int:
        return int(p.parent.name) if p.parent.name.isdigit() else 0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise RuntimeError(MISSING)


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    user: str
    password: str
    control: _Control | None = None  # stops and starts the server (fault tests)

    def url(self, database: str = "postgres") -> str:
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh, empty database; dropped afterwards (connections still open are cut)."""
        name = f"t_{secrets.token_hex(6)}"
        # A fresh connection each time: the server may have been restarted meanwhile.
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            yield self.url(name)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()

    def stop(self) -> None:
        """Stop the server at once (`-m immediate`: like a crash; clients are cut off)."""
        assert self.control is not None
        self.control.stop()

    def start(self) -> None:
        """Start the server again on the same port, with the same data."""
        assert self.control is not None
        self.control.start(self.port)


@dataclass(frozen=True)
class _Control:
    """Runs the cluster's binaries as the server's user."""

    bin_dir: Path
    root: Path
    as_user: dict[str, object]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def run(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
            cwd=self.root,
            check=False,
            **self.as_user,  # type: ignore[arg-type]
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    def stop(self) -> None:
        """Stop the server if it runs (`pg_ctl status` exits 3 when none does)."""
        status = subprocess.run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            check=False,
            **self.as_user,  # type: ignore[arg-type]
        )
        if status.returncode != 3:
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def start(self, port: int) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {self.root} -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l",
                 str(self.root / "log"), "-o", options, "start")  # fmt: skip


def _server_user() -> dict[str, object]:
    """`subprocess` arguments that drop root for the server; nothing when not root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def cluster() -> Iterator[Cluster]:
    """Start a cluster (~1.5 s), yield it, then stop it and remove its directory."""
    bin_dir = find_bin_dir()
    as_user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="enclave-pg-"))
    pwfile, password = root / "pw", secrets.token_urlsafe(16)
    pwfile.write_text(password)
    for path in (root, pwfile) if as_user else ():
        os.chown(path, as_user["user"], as_user["group"])  # type: ignore[arg-type]
    control = _Control(bin_dir, root, as_user)
    watchdog = _watchdog(bin_dir, root, as_user)
    try:
        control.run("initdb", "-D", str(control.data), "-U", "enclave", "-A", "scram-sha-256",
                    f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8")  # fmt: skip
        port = _free_port()
        control.start(port)
        running = Cluster("127.0.0.1", port, "enclave", password, control)
        try:
            yield running
        finally:
            control.stop()
    finally:
        watchdog.kill()
        watchdog.wait()
        shutil.rmtree(root, ignore_errors=True)


def _watchdog(bin_dir: Path, root: Path, as_user: dict[str, object]) -> subprocess.Popen:
    """A shell that stops the cluster and removes its directory if this process dies without
    doing so (killed by a timeout, say), so no server outlives its test run."""
    script = (
        f"while [ -d /proc/{os.getpid()} ]; do sleep 1; done; "
        f'"{bin_dir / "pg_ctl"}" -D "{root / "data"}" -m immediate stop; rm -rf "{root}"'
    )
    return subprocess.Popen(
        ["sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **as_user,  # type: ignore[arg-type]
    )
