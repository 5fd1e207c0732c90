"""Fewer malloc arenas for the server process.

glibc's malloc gives threads that contend for it heaps of their own (arenas, up to 8 per core)
and returns little of them to the system. Under the request threads of `enclave serve` the
server's private memory grew in steps (+76 MB in 3 minutes of 50 users asking and uploading,
`evals.bench.soak`); with 2 arenas it stayed level (within ±20 MB) at the same throughput.
`limit_arenas` sets that limit at start-up, before any thread runs, unless the operator set
MALLOC_ARENA_MAX (glibc reads that itself); without glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2


def limit_arenas(count: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `count`; whether the cap was set here."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return False
    return bool(mallopt(M_ARENA_MAX, count))
