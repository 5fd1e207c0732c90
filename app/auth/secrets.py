"""Purpose-bound keys derived from the one server secret (HMAC-SHA256, RFC 2104), and digests
of high-entropy secrets for storage."""

from __future__ import annotations

import hashlib
import hmac


def derive(secret: str, purpose: str) -> bytes:
    """A key for one purpose (session signing, API key pepper): rotating the server secret
    rotates them all (and so invalidates every session and API key)."""
    return hmac.new(secret.encode(), f"enclave/{purpose}".encode(), hashlib.sha256).digest()


def digest(value: str, key: bytes = b"") -> str:
    """Hex HMAC-SHA256 of a random secret (a key, a session id, a sign-in token).

    Fit for high-entropy values only: they need no slow password hash, and a lookup by the
    digest reveals nothing useful about the secret."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
