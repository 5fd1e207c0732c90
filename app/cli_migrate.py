"""`enclave migrate`: bring the metadata database's schema up (or, with --down-to, down) to a
revision. Every Enclave process also migrates up when it starts; this command lets an operator
do it first (one job before a rolling update) or step back before a downgrade of Enclave.
Merged into the main command line by app/cli.py."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_support import err, out
from app.db.session import current_revision, downgrade, make_engine, migrate
from app.settings import Settings

commands = typer.Typer()


@commands.command("migrate")
def migrate_command(
    to: Annotated[str, typer.Option("--to", help="Upgrade to this revision.")] = "head",
    down_to: Annotated[
        str | None,
        typer.Option("--down-to", help='Downgrade to this revision ("base": remove every table).'),
    ] = None,
) -> None:
    """Migrate the metadata database (ENCLAVE_DATABASE__URL) and print its revision."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the embedded database lives there
    engine = make_engine(settings.database_url)
    try:
        before = current_revision(engine)
        if down_to is not None:
            downgrade(engine, down_to)
        else:
            migrate(engine, to)
        after = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - one plain line, never a URL with its password
        err.print(f"[red]error:[/red] migration failed ({type(exc).__name__})")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    err.print(f"schema revision: {before or 'none'} -> {after or 'none'}")
    out.print(after or "none")
