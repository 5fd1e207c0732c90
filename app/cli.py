"""The `enclave` command line: serve, ingest, search, ask — on the local data directory.

The CLI acts as the local admin: whoever runs it can read the data directory anyway. It sees
the collections the local admin has a role on (those it created, and any granted to it).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app import cli_deploy, cli_erasure, cli_eval, cli_migrate, cli_tune
from app.auth import users
from app.cli_support import CollectionOpt, check_models, err, local_runtime, out
from app.db.models import Document
from app.db.session import transaction
from app.logs import configure_logging
from app.runtime import Runtime, build_runtime
from app.services import answers, collections, documents, keys, local_admin, scopes
from app.settings import Settings
from ingestion.failures import explain
from retrieval.errors import StoreUnavailable
from retrieval.types import Chunk, Scope

log = logging.getLogger("enclave.cli")
cli = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
cli.add_typer(cli_erasure.commands)  # erase, verify-receipt, receipt-key, backup, restore
cli.add_typer(cli_migrate.commands)  # migrate
cli.add_typer(cli_deploy.commands)  # bundle, doctor
cli.add_typer(cli_tune.commands)  # tune, reembed
cli.add_typer(cli_eval.commands)  # eval


def scope_of(runtime: Runtime, collection: str) -> Scope:
    principal = local_admin.principal(sessions=runtime.sessions)
    with runtime.sessions() as db:
        found = collections.authorised(
            db=db, principal=principal, ref=collection, permission="read"
        )
        return scopes.read_scope(db=db, principal=principal, collection_ids=[found.id])


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000; 0: any free one).")] = None,
) -> None:
    """Start the web UI and the REST API (and, embedded, the ingestion worker)."""
    import uvicorn

    from app import http_server
    from app.allocator import limit_arenas
    from app.main import create_app

    limit_arenas()  # before the request threads start
    settings = Settings()
    configure_logging(settings.log_level)
    host = settings.server.host if host is None else host
    port = settings.server.port if port is None else port
    try:
        sock = http_server.bind(host, port)  # a busy port fails now, before the models load
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot listen on {host}:{port} ({exc.strerror})")
        raise typer.Exit(1) from None
    port = sock.getsockname()[1]
    server = settings.server.model_copy(update={"host": host, "port": port})
    settings = settings.model_copy(update={"server": server})
    check_models(settings)
    log.info("server.listening", extra={"url": server.url, "host": host, "port": port})
    err.print(f"Enclave ({settings.mode}) on {server.url}  —  API docs at /docs", highlight=False)
    options = http_server.uvicorn_options(settings)
    config = uvicorn.Config(create_app(settings), host=host, port=port, **options)
    http_server.record_url(settings.data_dir, server.url)  # for `enclave admin-link`
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        http_server.forget_url(settings.data_dir)
        sock.close()


@cli.command("admin-link")
def admin_link(
    url: Annotated[
        str | None,
        typer.Option(
            help="The server's address as the browser reaches it (default: the "
            "running server's, else the configured one)."
        ),
    ] = None,
) -> None:
    """Print a fresh one-time sign-in link for the local admin (the previous one stops working):
    the link alone on standard output, one line, never wrapped."""
    from app.http_server import running_url

    settings = Settings()
    if not settings.local_admin:
        err.print("[red]error:[/red] the local admin is disabled (ENCLAVE_AUTH__LOCAL_ADMIN)")
        raise typer.Exit(1)
    configure_logging("WARNING")
    base = url or running_url(settings.data_dir)
    if base is None:
        base = settings.server.url
        err.print(
            f"No server is running on {settings.data_dir}: the link is for {base} "
            "(give another address with --url).",
            highlight=False,
        )
    runtime = build_runtime(settings)
    try:
        ttl = settings.auth.sign_in_link_ttl_s
        link = users.local_sign_in_link(runtime.sessions, base_url=base, ttl_s=ttl)
    finally:
        runtime.close()
    err.print(f"One-time sign-in link (valid {ttl // 60} min):", highlight=False)
    print(link, flush=True)


@cli.command("api-key")
def api_key(
    collection: Annotated[list[str], typer.Option("--collection", "-c", help="Collection(s).")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    write: Annotated[bool, typer.Option("--write", help="Also allow uploads.")] = False,
    days: Annotated[int, typer.Option(help="Days until it expires (1-366).")] = 90,
) -> None:
    """Create an API key for an app, as the local admin; prints the key once (stdout)."""
    from app.auth import api_keys

    with local_runtime(open_index=False) as runtime:  # works beside a running server
        principal = local_admin.principal(sessions=runtime.sessions)
        pepper = api_keys.pepper_from(runtime.settings.secret_key.get_secret_value())
        with transaction(runtime.sessions) as db:
            key, secret = keys.issue(
                db=db,
                principal=principal,
                pepper=pepper,
                collection_refs=collection,
                name=name,
                permissions=["read", "write"] if write else ["read"],
                expires_in_days=days,
            )
        err.print(f"API key {key.id} ({key.permissions}), expires {key.expires_at:%Y-%m-%d}:")
        print(secret)


@cli.command()
def worker() -> None:
    """Run an ingestion worker until interrupted (production: several, beside the API).

    A job whose worker died is taken up again once its lease (ENCLAVE_WORKER__LEASE_S) expires.
    """
    import signal
    import threading

    settings = Settings()
    configure_logging(settings.log_level)
    check_models(settings)
    runtime = build_runtime(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        worker = runtime.worker()  # loads the models, opens the index
    except StoreUnavailable as exc:
        runtime.close()
        err.print(f"[red]error:[/red] {exc}")
        err.print(
            "The embedded index belongs to one process: stop `enclave serve` first, or run "
            "workers against a Qdrant server (ENCLAVE_VECTOR_STORE__KIND=qdrant)."
        )
        raise typer.Exit(1) from None
    err.print("Enclave worker started; Ctrl-C to stop.")
    try:
        worker.run_forever(stop)
    finally:
        runtime.close()


def files_under(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        elif path.is_file():
            found.append(path)
        else:
            err.print(f"[yellow]skipped:[/yellow] {path} (not found)")
    return found


@cli.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders.")],
    collection: CollectionOpt,
) -> None:
    """Index files (folders recursively) into a collection, creating it when absent."""
    with local_runtime() as runtime:
        files = files_under(paths)
        principal = local_admin.principal(sessions=runtime.sessions)
        with transaction(runtime.sessions) as db:
            target = collections.get_or_create(db=db, principal=principal, name=collection)
        queued, skipped, failed = documents.upload_files(
            sessions=runtime.sessions,
            collection=target,
            paths=files,
            principal=principal,
            originals=runtime.originals,
            max_bytes=runtime.settings.server.max_upload_bytes,
        )
        run_jobs(runtime, len(queued))
        with runtime.sessions() as db:
            docs = [db.get_one(Document, i) for i in queued]
        indexed = [d for d in docs if d.status == "indexed"]
        failed += [(d.filename, _why(d.error)) for d in docs if d.status != "indexed"]
        chunks = sum(d.chunks_total for d in indexed)
        out.print(
            f"indexed {len(indexed)} ({chunks} chunks), skipped {skipped} (already indexed), "
            f"failed {len(failed)}"
        )
        for name, reason in failed:
            out.print(f"  [red]failed[/red] {name}: {reason}")
        if failed:
            raise typer.Exit(1)


def _why(error: str | None) -> str:
    """A failed document's reason as a sentence, with its code for scripts and admins."""
    if not error:
        return "failed"
    failure = explain(error)
    return escape(f"{failure.message} [{failure.code}: {error}]")


def run_jobs(runtime: Runtime, total: int) -> None:
    """Drain the queued jobs in this process, with a progress bar."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("ingesting", total=total)
        runtime.worker().run_until_idle(on_job=lambda: progress.advance(task))


@cli.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    collection: CollectionOpt,
    k: Annotated[int, typer.Option("-k", help="How many chunks.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, dense or bm25.")] = "hybrid",
) -> None:
    """Ranked chunks with scores and sources, each with its passage that matches the query."""
    with local_runtime() as runtime:
        result = answers.search(
            retriever=runtime.retriever,
            sessions=runtime.sessions,
            scope=scope_of(runtime, collection),
            query=query,
            k=k,
            mode=mode,  # type: ignore[arg-type]
        )
        table = Table("#", "score", "source", "passage", show_lines=True)
        for rank, hit in enumerate(result.hits, start=1):
            c = hit.chunk
            found = answers.passage(query, hit)
            text = c.text[found.start : found.end] if found else c.text
            offsets = f"\n[dim]chars {found.start}-{found.end}[/dim]" if found else ""
            where = _where(c, found.start if found else None)
            table.add_row(str(rank), f"{hit.score:.4f}", where, _short(text) + offsets)
        out.print(table)
        out.print(f"reranker: {result.reranker}", style="dim")


def _where(c: Chunk, offset: int | None) -> str:
    """Title › section (page) of the passage at `offset` of the chunk's text, else of the
    whole chunk (its page range)."""
    place = c.place_at(offset) if offset is not None else None
    section = place.section if place else c.section
    where = c.title + (f" › {section}" if section else "")
    pages = (place.page, place.page) if place and place.page is not None else c.pages
    if pages is not None:
        first, last = pages
        where += f" (p. {first})" if first == last else f" (pp. {first}–{last})"
    return escape(where)


def _short(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return escape(flat if len(flat) <= limit else flat[: limit - 1] + "…")


@cli.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    collection: CollectionOpt,
    mode: Annotated[
        str | None,
        typer.Option(help="extractive, generator or both (default: the answer.mode setting)."),
    ] = None,
) -> None:
    """A streamed, verified answer with numbered citations; unsupported claims are listed apart."""
    with local_runtime() as runtime:
        events = runtime.answers.stream(
            scope=scope_of(runtime, collection),
            question=question,
            mode=mode,  # type: ignore[arg-type]
        )
        answer = answers.collect(events, on_text=write_now)
        out.print("\n")
        for verdict in answer.flagged:
            text = escape(verdict.claim.claim.text)
            out.print(f"[yellow]not supported by the sources, not shown:[/yellow] {text}")
        cited = {s.number for s in answer.done.citations}
        for s in answer.retrieved.sources:
            mark = "*" if s.number in cited else " "
            where = s.title + (f" › {s.section}" if s.section else "")
            where += f", p. {s.page}" if s.page else ""
            out.print(f"{mark}[{s.number}] {where}  ({s.document})", highlight=False)
        done = answer.done
        share = done.verification.supported_share if done.verification.claims else None
        out.print(
            f"mode: {done.mode} · model: {done.model} · reranker: {answer.retrieved.reranker} · "
            + (f"supported claims: {share:.0%} · " if share is not None else "")
            + f"dropped citations: {done.dropped_citations}",
            style="dim",
        )


def write_now(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def main() -> None:
    # Model libraries: offline, and no progress bars on the user's terminal.
    for var, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(var, value)
    cli()


if __name__ == "__main__":  # python -m app.cli
    main()
