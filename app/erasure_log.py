"""The erasure log: every signed receipt, one JSON line each, appended and fsynced.

It lives apart from the database and the index (`ENCLAVE_ERASURE__LOG_PATH`), so that restoring
a backup taken before an erasure does not bring the erased document back: after a restore,
`replay` erases again every document the log names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def append(path: Path, signed_receipt: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(signed_receipt, sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())


def entries(path: Path) -> Iterator[dict[str, Any]]:
    """The signed receipts in the log, oldest first (none if there is no log yet)."""
    if not path.exists():
        return
    with path.open() as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
