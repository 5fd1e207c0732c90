"""`app.errors.translate`: the libraries' failures as the caller sees them, never a driver's
message (it can name the database server and user); a full disk in words."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from app.errors import InsufficientStorage, UpstreamUnavailable, translate
from retrieval.errors import IndexFull

DRIVER_SAYS = 'connection to server at "db.internal" (10.0.0.7), port 5432 failed: user enclave'


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, Exception(DRIVER_SAYS)),
        InterfaceError("SELECT 1", {}, Exception(DRIVER_SAYS)),
        DisconnectionError(DRIVER_SAYS),
    ],
)
def test_an_unreachable_database_is_a_503_with_retry_after(exc: Exception) -> None:
    err = translate(exc)
    assert isinstance(err, UpstreamUnavailable)
    assert err.status_code == 503
    assert err.retry_after_s
    assert str(err) == "the database is unavailable; retry shortly"


def _sqlite_full() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        OperationalError("INSERT", {}, _sqlite_full()),
        IndexFull("the index's disk is full: 3 MB free, 512 MB needed"),
    ],
)
def test_a_full_disk_is_a_507_in_words(exc: Exception) -> None:
    err = translate(exc)
    assert isinstance(err, InsufficientStorage)
    assert err.status_code == 507
    assert str(err) == "the server's disk is full; try again once space is freed"


def test_other_os_errors_and_a_locked_sqlite_are_not_a_full_disk() -> None:
    assert translate(OSError(errno.EACCES, "Permission denied")).status_code == 500
    locked = OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert translate(locked).status_code == 503
