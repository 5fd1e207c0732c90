"""Errors raised while ingesting a document."""

import errno

from retrieval.errors import IndexFull


class IngestionError(Exception):
    """Base class of ingestion errors."""


class InvalidDocument(IngestionError):
    """The document cannot be ingested (corrupt, unsupported, no text); the message says why.

    Permanent: retrying the same bytes fails the same way. Messages never quote content.
    """


def out_of_space(exc: BaseException) -> bool:
    """A write failed for want of disk space: no space left on the device or over quota, or
    the embedded index refusing to write below the space it keeps free."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, IndexFull)
