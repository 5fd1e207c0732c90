"""`enclave erase`, `verify-receipt`, `receipt-key`, `backup` and `restore` (added to the main
command line by app/cli.py)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Annotated

import typer

from app import receipts
from app.cli_support import err, local_runtime, out
from app.services import local_admin
from app.settings import Settings
from retrieval.stores.edge import LOCK_FILE

commands = typer.Typer()
BACKUP_PARTS = ("enclave.db", "index", "originals")


@commands.command()
def erase(
    document_id: Annotated[str, typer.Argument(help="The document's id.")],
    reason: Annotated[str, typer.Option(help="Your reference: a case or ticket id.")],
    receipt_out: Annotated[
        Path | None, typer.Option("--receipt", help="Write the signed receipt here.")
    ] = None,
) -> None:
    """Erase a document everywhere and print its signed receipt (stop `enclave serve` first)."""
    with local_runtime() as runtime:
        signed = runtime.eraser.erase(
            document_id=document_id,
            reason=reason,
            principal=local_admin.principal(sessions=runtime.sessions),
        )
    text = json.dumps(signed, indent=2, sort_keys=True)
    if receipt_out is not None:
        receipt_out.write_text(text + "\n")
        err.print(f"receipt written to {receipt_out}")
    else:
        out.print_json(text)


@commands.command("verify-receipt")
def verify_receipt(
    receipt_file: Annotated[Path, typer.Argument(help="A signed erasure receipt (JSON).")],
    public_key: Annotated[
        Path | None,
        typer.Option(help="The deployment's public key (PEM); default: this data directory's."),
    ] = None,
) -> None:
    """Check an erasure receipt's signature, offline. Exit 0 if valid, 1 if not."""
    try:
        signed = json.loads(receipt_file.read_text())
        if public_key is not None:
            key = receipts.load_public_key(public_key.read_bytes())
        else:
            private = receipts.load_or_create_key(Settings().signing_key_path, create=False)
            key = private.public_key()
        body = receipts.verify(signed, key)
    except (OSError, ValueError) as exc:  # InvalidReceipt and JSON errors are ValueErrors
        typer.echo(f"invalid: {exc}", err=True)
        raise typer.Exit(1) from None
    reason = f" for {body['reason']!r}" if body.get("reason") else ""  # older ones have none
    typer.echo(
        f"valid receipt {body['request_id']}: document {body['document_id']} "
        f"(sha256 {body['content_hash'][:12]}…) erased {body['completed_at']}{reason}, "
        f"signed by {body['key_id']}"
    )


@commands.command("receipt-key")
def receipt_key() -> None:
    """Print the public key that verifies this deployment's erasure receipts (PEM)."""
    settings = Settings()
    key = receipts.load_or_create_key(settings.signing_key_path, create=settings.mode == "embedded")
    typer.echo(receipts.public_pem(key), nl=False)


@commands.command()
def backup(
    destination: Annotated[Path, typer.Argument(help="An empty or new folder.")],
) -> None:
    """Copy the embedded default's database, index and originals (stop `enclave serve` first).

    Not copied: the erasure log and the signing key, which must outlive any restore.
    """
    destination.mkdir(parents=True, exist_ok=True)
    if any(destination.iterdir()):
        err.print(f"[red]error:[/red] {destination} is not empty")
        raise typer.Exit(1)
    with local_runtime() as runtime:  # holds the index lock: nothing writes meanwhile
        data = runtime.settings.data_dir
        with (
            sqlite3.connect(data / "enclave.db") as source,
            sqlite3.connect(destination / "enclave.db") as copy,
        ):
            source.backup(copy)
        shutil.copytree(
            runtime.settings.index_path,
            destination / "index",
            ignore=shutil.ignore_patterns(LOCK_FILE),
        )
        shutil.copytree(runtime.settings.originals_dir, destination / "originals")
    typer.echo(f"backed up {data} to {destination}")


@commands.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A folder written by `enclave backup`.")],
) -> None:
    """Replace the data directory's database, index and originals with a backup, then erase
    again every document the erasure log names (stop `enclave serve` first)."""
    missing = [p for p in BACKUP_PARTS if not (source / p).exists()]
    if missing:
        err.print(f"[red]error:[/red] {source} is not a backup (missing {', '.join(missing)})")
        raise typer.Exit(1)
    settings = Settings()
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    with local_runtime():  # the index lock: refuse while a server runs
        pass
    for name in BACKUP_PARTS:
        target = data / name
        for stale in (target, data / f"{name}-wal", data / f"{name}-shm"):
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink(missing_ok=True)
        copy = shutil.copytree if (source / name).is_dir() else shutil.copy2
        copy(source / name, target)
    with local_runtime() as runtime:  # migrates a backup from an older version first
        replayed = runtime.eraser.replay(principal=local_admin.principal(sessions=runtime.sessions))
    typer.echo(f"restored {source} into {data}; erased again: {replayed}")
