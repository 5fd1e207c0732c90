"""`enclave bundle` (carry Enclave into an air-gapped network) and `enclave doctor` (check a
configuration, or a running deployment). Merged into the main command line by app/cli.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from app.bundle import BundleError, build
from app.cli_support import err, fail, out
from app.doctor import check_configuration, check_deployment, invalid_settings
from app.errors import KNOWN_ERRORS
from app.logs import configure_logging
from app.settings import Settings

commands = typer.Typer()
MARKS = {
    "ok": "[green]ok[/green]      ",
    "warning": "[yellow]warning[/yellow] ",
    "failed": "[red]FAILED[/red]  ",
    "skipped": "[dim]skipped[/dim] ",
}


@commands.command("bundle")
def bundle_command(
    directory: Annotated[Path, typer.Argument(help="A new or empty folder.")],
) -> None:
    """Write an offline bundle: wheels for this platform (the lock's runtime packages and
    Enclave), the models the settings use, checksums, a manifest and install.sh."""
    settings = valid_settings()
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    started = time.perf_counter()
    try:
        with Progress(*columns, console=err) as progress:
            manifest = build(directory, settings=settings, progress=progress)
    except (BundleError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
    except KNOWN_ERRORS as exc:  # a configured model is missing
        fail(exc)
    size = sum(entry["size"] for entry in manifest["files"].values())
    out.print(
        f"{directory}: {len(manifest['packages'])} packages, {len(manifest['models'])} models, "
        f"{size / 2**20:.0f} MiB, written in {time.perf_counter() - started:.0f} s",
        highlight=False,
    )
    out.print(f"Install it offline with: {directory}/install.sh VENV_DIR", highlight=False)


@commands.command()
def doctor(
    url: Annotated[
        str | None,
        typer.Option(help="Check the running deployment at this URL (/healthz, /readyz)."),
    ] = None,
) -> None:
    """Check this configuration — database, schema, models and their checksums, embedder,
    reranker, generator, index, and a canary ingest → search → erase with a verified receipt —
    or, with --url, a running deployment. Exit 1 on any problem."""
    if url is not None:
        findings = check_deployment(url)
    else:
        settings = valid_settings()
        configure_logging("WARNING")
        findings = check_configuration(settings)
    failed = 0
    for finding in findings:
        out.print(MARKS[finding.status] + escape(finding.sentence), highlight=False, soft_wrap=True)
        failed += finding.status == "failed"
    if failed:
        err.print(f"{failed} problem{'s' if failed > 1 else ''} found.")
        raise typer.Exit(1)
    out.print("No problem found.")


def valid_settings() -> Settings:
    """The settings from the environment, or exit 1 with what is wrong in a sentence."""
    try:
        return Settings()
    except ValidationError as exc:
        err.print(f"[red]FAILED[/red]  {escape(invalid_settings(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
