"""The stored originals: one file per index generation (job), `root / <job id>`.

The one place that knows the layout. An upload streams into a temp file beside the originals
(`receive`), is moved into place once its job exists (`put`), is read by the worker (`path`),
and leaves with its bytes overwritten by zeros first (`wipe`), whether it was erased or
replaced by a newer version. Temp files a crash left mid-upload (no row names them, so no
erasure could) are wiped the same way at start-up and by every erasure (`wipe_partials`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Protocol

from app.errors import DISK_FULL, InsufficientStorage, PayloadTooLarge

_BLOCK = 1024 * 1024
PARTIAL_PREFIX = ".upload-"  # an upload streaming in (`receive`)
PARTIAL_IDLE_S = 300.0  # not written to for this long: left by a crash, no row points to it

log = logging.getLogger(__name__)


class Readable(Protocol):
    """An open file, or an upload streaming in (`app.api.uploads.MultipartFile`)."""

    def read(self, size: int = -1, /) -> bytes: ...


def too_large(max_bytes: int) -> PayloadTooLarge:
    """The one refusal of an upload past the size limit (`max_bytes`)."""
    return PayloadTooLarge(f"upload exceeds the limit of {max_bytes // 2**20} MB")


class Originals:
    def __init__(self, root: Path, *, min_free_bytes: int = 0) -> None:
        self.root = root
        self.min_free_bytes = min_free_bytes

    def receive(self, stream: Readable, *, max_bytes: int) -> tuple[Path, str, int]:
        """Copy `stream` to a temp file beside the originals, hashing it; raise `TooLarge` past
        `max_bytes` (`PayloadTooLarge`), `InsufficientStorage` where a block would leave less
        than `min_free_bytes` free on the disk. Returns (temp path, sha256 hex, size); `put` it
        or `discard` it."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, name = tempfile.mkstemp(dir=self.root, prefix=PARTIAL_PREFIX)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                while block := stream.read(_BLOCK):
                    size += len(block)
                    if size > max_bytes:
                        raise too_large(max_bytes)
                    if shutil.disk_usage(self.root).free - len(block) < self.min_free_bytes:
                        raise InsufficientStorage(DISK_FULL)
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, digest.hexdigest(), size

    def discard(self, temp: Path) -> None:
        """Drop a received file that is not kept (a duplicate, a refusal)."""
        temp.unlink(missing_ok=True)

    def put(self, temp: Path, generation: str) -> None:
        """Keep a received file as the original of `generation`."""
        temp.rename(self.path(generation))

    def path(self, generation: str) -> Path:
        return self.root / generation

    def exists(self, generation: str) -> bool:
        return self.path(generation).exists()

    def wipe(self, generation: str) -> int:
        """Overwrite the original with zeros, then delete it; returns 1 if there was one."""
        return _wipe(self.path(generation))

    def stale_partials(self, *, idle_s: float) -> list[Path]:
        """Upload temp files not written to for `idle_s` (0: all of them)."""
        now = time.time()
        found = []
        for path in self.root.glob(PARTIAL_PREFIX + "*"):
            try:
                if now - path.stat().st_mtime >= idle_s:
                    found.append(path)
            except FileNotFoundError:  # finished (renamed) or removed meanwhile
                continue
        return found

    def wipe_partials(self, *, idle_s: float) -> int:
        """Overwrite and delete the partial uploads a crash left; returns how many."""
        wiped = sum(_wipe(path) for path in self.stale_partials(idle_s=idle_s))
        if wiped:
            log.info("uploads.partial_wiped", extra={"count": wiped})
        return wiped


def _wipe(path: Path) -> int:
    """Overwrite a file with zeros, then delete it; returns 1 if there was one."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as out:
            zeros = bytes(min(size, _BLOCK))
            left = size
            while left > 0:
                left -= out.write(zeros[: min(left, len(zeros))])
            out.flush()
            os.fsync(out.fileno())
        path.unlink()
    except FileNotFoundError:  # gone meanwhile
        return 0
    return 1
