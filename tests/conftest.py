"""Test-wide guards: outbound network is blocked at the socket level (loopback allowed), so any
hidden download fails a test; model libraries are told they are offline. Also the PostgreSQL
fixtures (a throwaway cluster, see tests/pg.py) for tests marked `postgres`."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest

from tests import pg

for _var, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "SCARF_NO_ANALYTICS": "true",
    "DO_NOT_TRACK": "true",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_var, _value)


class NetworkBlocked(RuntimeError):
    """Raised when code under test tries to reach a non-loopback address."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guard(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            raise NetworkBlocked(f"outbound connection to {host!r} blocked in tests")


def _connect(self: socket.socket, address: object) -> None:
    _guard(self, address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    _guard(self, address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
    if host is not None and not _is_loopback(
        host if not isinstance(host, bytes) else host.decode()
    ):
        raise NetworkBlocked(f"name lookup of {host!r} blocked in tests")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]


@pytest.fixture
def network_guard() -> type[NetworkBlocked]:
    """The exception any outbound connection raises (for tests that prove the block works)."""
    return NetworkBlocked


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pg.Cluster]:
    """One throwaway PostgreSQL cluster for the session (tests marked `postgres`); fails with
    instructions when the server binaries are missing, never skips."""
    try:
        pg.find_bin_dir()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    with pg.cluster() as running:
        yield running


@pytest.fixture
def postgres_url(postgres_cluster: pg.Cluster) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty database on the session's cluster."""
    with postgres_cluster.database() as url:
        yield url
