"""Errors raised by the retrieval library."""


class RetrievalError(Exception):
    """Base class of retrieval errors."""


class StoreUnavailable(RetrievalError):
    """The vector store cannot be reached or opened (e.g. locked by another process)."""


class IndexFull(RetrievalError):
    """The embedded index's disk has less free space than the reserve Enclave keeps: writes are
    refused (the engine writes through memory-mapped files, so a full disk would crash the
    process instead of failing one write)."""


class ModelNotFound(RetrievalError):
    """A configured model directory does not exist or lacks the expected files."""
