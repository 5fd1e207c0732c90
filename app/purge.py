"""Physical purge of the metadata DB, and the byte scan that proves nothing is left.

Used by erasure (and anything else that must leave no bytes behind): deleted rows are already
gone from the tables; these push them out of the database's logs and check the files.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, text

from app.errors import UpstreamUnavailable

_BLOCK = 1024 * 1024


def compact_database(engine: Engine) -> None:
    """Push freed pages out of the database's logs (rows are already gone)."""
    if engine.dialect.name == "sqlite":
        # secure_delete zeroes freed space in the pages; the WAL still holds the older page
        # images until a checkpoint copies the new ones back and truncates it.
        for _ in range(100):
            with engine.connect() as conn:
                busy, _frames, _done = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
            if busy == 0:
                return
            time.sleep(0.05)
        raise UpstreamUnavailable("the database is busy; request the erasure again")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM documents, jobs"))


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Files under `root` whose bytes contain `needle` (read in overlapping blocks)."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        tail = b""
        with path.open("rb") as f:
            while block := f.read(_BLOCK):
                if needle in tail + block:
                    found.append(path)
                    break
                tail = block[-len(needle) :]
    return found
