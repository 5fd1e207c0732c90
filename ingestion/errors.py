"""Errors raised while ingesting a document."""


class IngestionError(Exception):
    """Base class of ingestion errors."""


class InvalidDocument(IngestionError):
    """The document cannot be ingested (corrupt, unsupported, no text); the message says why.

    Permanent: retrying the same bytes fails the same way. Messages never quote content.
    """
