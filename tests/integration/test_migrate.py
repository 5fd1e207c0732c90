"""`enclave migrate` on real PostgreSQL, through the installed command: up to the newest
revision (the schema then matches the models), down one revision and to base (no Enclave table
left), and up again; and processes starting together migrating one at a time (advisory lock)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.db.models import Base
from app.db.session import current_revision, make_engine, migrate

pytestmark = pytest.mark.postgres
ENCLAVE = Path(sys.executable).with_name("enclave")


def enclave_migrate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENCLAVE_DATABASE__URL": url, "ENCLAVE_DATA_DIR": "/nonexistent"}
    return subprocess.run(
        [str(ENCLAVE), "migrate", *args], capture_output=True, text=True, env=env, timeout=300
    )


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_up_down_and_up_again(postgres_url: str) -> None:
    up = enclave_migrate(postgres_url)
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == "0004"
    assert "none -> 0004" in up.stderr
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert enclave_migrate(postgres_url).stdout.strip() == "0004"  # again: nothing to do

        one_down = enclave_migrate(postgres_url, "--down-to", "0003")
        assert one_down.returncode == 0, one_down.stderr
        assert current_revision(engine) == "0003"
        assert "index_settings" not in tables(postgres_url)  # 0004's table went
        assert "erasures" in tables(postgres_url)  # 0003's stayed

        two_down = enclave_migrate(postgres_url, "--down-to", "0002")
        assert two_down.returncode == 0, two_down.stderr
        assert "erasures" not in tables(postgres_url)
        assert "audit_events" in tables(postgres_url)

        base = enclave_migrate(postgres_url, "--down-to", "base")
        assert base.returncode == 0, base.stderr
        assert base.stdout.strip() == "none"
        assert tables(postgres_url) <= {"alembic_version"}

        again = enclave_migrate(postgres_url, "--to", "head")
        assert again.returncode == 0, again.stderr
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def test_a_failed_migration_names_no_credentials(postgres_url: str) -> None:
    wrong = postgres_url.replace("@", "x@", 1)  # a wrong password
    failed = enclave_migrate(wrong)
    assert failed.returncode == 1
    assert "migration failed (OperationalError)" in failed.stderr
    password = postgres_url.split("@")[0].rsplit(":", 1)[1]
    assert password not in failed.stdout + failed.stderr


def test_processes_starting_together_migrate_one_at_a_time(postgres_url: str) -> None:
    engines = [make_engine(postgres_url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def run(engine) -> None:  # type: ignore[no-untyped-def]
        start.wait()
        try:
            migrate(engine)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == []
        assert current_revision(engines[0]) == "0004"
    finally:
        for engine in engines:
            engine.dispose()
