"""`app.allocator.limit_arenas`: set on glibc, left to the operator when MALLOC_ARENA_MAX is set."""

from __future__ import annotations

import platform

import pytest

from app.allocator import limit_arenas


def test_the_operators_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False


def test_the_cap_is_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_arenas() is (platform.libc_ver()[0] == "glibc")
