"""`app.errors.translate`: the libraries' failures as the caller sees them, never a driver's
message (it can name the database server and user)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from app.errors import UpstreamUnavailable, translate

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
