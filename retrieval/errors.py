"""Errors raised by the retrieval library."""


class RetrievalError(Exception):
    """Base class of retrieval errors."""


class StoreUnavailable(RetrievalError):
    """The vector store cannot be reached or opened (e.g. locked by another process)."""


class ModelNotFound(RetrievalError):
    """A configured model directory does not exist or lacks the expected files."""
