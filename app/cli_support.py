"""What every `enclave` command shares: the consoles, the collection option, and the runtime
on the local data directory with one-line errors (the same mapping as the API's)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from app import model_check
from app.errors import KNOWN_ERRORS, translate
from app.logs import configure_logging
from app.runtime import Runtime, build_runtime
from app.settings import Settings
from retrieval.errors import StoreUnavailable

out = Console()
err = Console(stderr=True, soft_wrap=True)  # messages and paths stay on one line
CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]


@contextmanager
def local_runtime(*, open_index: bool = True) -> Iterator[Runtime]:
    """The runtime on the local data directory; clean one-line errors instead of tracebacks."""
    settings = Settings()
    configure_logging("WARNING")
    runtime = build_runtime(settings)
    try:
        if open_index:  # fail fast (and record nothing) if a running server holds the index
            _ = runtime.store
        yield runtime
    except StoreUnavailable as exc:
        err.print(f"[red]error:[/red] {exc}")
        err.print("Stop `enclave serve` first, or upload through the web page or the REST API.")
        raise typer.Exit(1) from None
    except KNOWN_ERRORS as exc:
        fail(exc)
    finally:
        runtime.close()


def check_models(settings: Settings) -> None:
    """Before a server or worker starts: every model it will load matches the checksum
    manifest (`app.model_check`), or the process exits with the reason in one line."""
    try:
        model_check.verify(settings)
    except KNOWN_ERRORS as exc:
        fail(exc)


def fail(exc: BaseException) -> NoReturn:
    """Print the error as the API would word it, and exit with status 1."""
    err.print(f"[red]error:[/red] {translate(exc)}")
    raise typer.Exit(1) from None
