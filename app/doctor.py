"""`enclave doctor`: is this configuration, or a running deployment, fit to serve?

Every check ends in one plain sentence. A configuration is checked in order — database reachable,
schema migrated, models present and matching their checksums, embedder / reranker / generator
loadable, index reachable, then a canary round trip (`app.canary`) — and a check that needs an
earlier one which failed is skipped with a sentence that says so. A running deployment (`--url`)
is asked /healthz and /readyz. Sentences name paths, settings and exception types; a database
URL is shown without its password.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
from pydantic import ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import canary, index_embedder, model_check, readiness
from app.db.session import current_revision, head_revision, make_engine
from app.errors import KNOWN_ERRORS
from app.runtime import Runtime, build_runtime
from app.settings import Settings
from retrieval.errors import StoreUnavailable
from retrieval.types import Chunk, Hit

Status = Literal["ok", "warning", "failed", "skipped"]


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    sentence: str


def reason(exc: BaseException) -> str:
    """An error in a few words: our errors' messages are written for operators; others are
    reduced to their type and the first line of their message, shortened."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig  # the driver's error, not SQLAlchemy's wrapper (a known error too)
    elif isinstance(exc, KNOWN_ERRORS):
        return str(exc)
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def check_configuration(settings: Settings) -> Iterator[Finding]:
    """Every check of a configuration, in order (see the module docstring)."""
    database, schema = _database(settings)
    yield database
    yield schema
    models = list(_models(settings))
    yield from models
    if schema.status != "ok":
        yield _skipped("parts", "current database schema")
        return
    runtime = build_runtime(settings)  # the schema is current: nothing to migrate
    try:
        parts = [_part(runtime, name, probe) for name, probe in PARTS.items()]
        yield from parts
        if any(f.status == "failed" for f in [*models, *parts]):
            yield _skipped("canary", "models and parts above")
        else:
            yield _canary(runtime)
    finally:
        runtime.close()


def _skipped(check: str, needs: str) -> Finding:
    return Finding(check, "skipped", f"Not checked: it needs the {needs}.")


def _failed(check: str, prefix: str, exc: BaseException) -> Finding:
    return Finding(check, "failed", f"{prefix}: {reason(exc).rstrip('.')}.")


def _database(settings: Settings) -> tuple[Finding, Finding]:
    """Whether the database answers, and whether its schema is current."""
    try:
        url = make_url(settings.database_url)
        engine = make_engine(settings.database_url, pool_size=1)
    except Exception as exc:  # noqa: BLE001 - reported in a sentence
        bad = _failed("database", "The database URL (ENCLAVE_DATABASE__URL) is not usable", exc)
        return bad, _skipped("schema", "database")
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        sentence = (
            f"The database file {url.database} does not exist yet: run `enclave migrate` "
            "(or start Enclave once)."
        )
        return Finding("database", "failed", sentence), _skipped("schema", "database")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return Finding("database", "ok", f"The database at {shown} answers."), _schema(engine)
    except Exception as exc:  # noqa: BLE001 - reported in a sentence
        bad = _failed("database", f"The database at {shown} cannot be reached", exc)
        return bad, _skipped("schema", "database")
    finally:
        engine.dispose()


def _schema(engine: Engine) -> Finding:
    current, head = current_revision(engine), head_revision()
    if current == head:
        return Finding("schema", "ok", f"The database schema is current (revision {head}).")
    return Finding(
        "schema",
        "failed",
        f"The database schema is at revision {current or 'none'}, this Enclave needs {head}: "
        "run `enclave migrate` (every Enclave process also migrates when it starts).",
    )


def _models(settings: Settings) -> Iterator[Finding]:
    """Each model file present, and matching the checksum manifest."""
    try:
        models = model_check.models_in_use(settings)
    except KNOWN_ERRORS as exc:  # a packaged model is not installed
        yield _failed("models", "A packaged model is not installed", exc)
        return
    if not models:
        yield Finding("models", "ok", "This configuration loads no model files.")
        return
    missing = [m for m in models if not m.path.exists()]
    for model in missing:
        yield Finding("models", "failed", f"The {model.role} model {model.path} does not exist.")
    where = model_check.manifest_path(settings)
    if where is None:
        required = model_check.required(settings)
        yield Finding(
            "checksums",
            "failed" if required else "warning",
            "No checksum manifest: model files are loaded unverified"
            + (", which production refuses" if required else "")
            + ". Install from an `enclave bundle`, or set ENCLAVE_MODELS__MANIFEST.",
        )
        return
    try:
        manifest = model_check.load_manifest(where)
    except model_check.ModelCheckFailed as exc:
        yield Finding("checksums", "failed", str(exc))
        return
    for model in (m for m in models if m not in missing):
        problem = model_check.mismatch(model, manifest, where)
        ok = f"The {model.role} model {model.name} matches its checksums in {where}."
        yield Finding("checksums", "failed" if problem else "ok", problem or ok)


def _load(runtime: Runtime, name: str) -> None:
    _ = getattr(runtime, name)  # builds the part (verifying its model's checksums first)


PROBE_HIT = Hit(Chunk(id="probe", collection="probe", document="probe", position=0, text="ok"), 0)


def _reranker_probe(runtime: Runtime) -> None:
    """One score of a fixed passage (readiness has no reranker check: the API never waits on it)."""
    if len(runtime.reranker.rerank("doctor", [PROBE_HIT], top_k=1)) != 1:
        raise ValueError("the reranker dropped the passage it was given")


PARTS: dict[str, Callable[[Runtime], None]] = {
    "embedder": readiness.check_embedder,
    "reranker": _reranker_probe,
    "generator": readiness.check_generator,
    "store": readiness.check_index,
}
PART_NAMES = {"store": "index"}


def _part(runtime: Runtime, name: str, probe: Callable[[Runtime], None]) -> Finding:
    """Load a part of the runtime, then run its readiness probe."""
    shown = PART_NAMES.get(name, name)
    try:
        _load(runtime, name)
        probe(runtime)
    except StoreUnavailable as exc:
        return Finding(
            shown,
            "failed",
            f"The index cannot be opened ({exc}): stop `enclave serve` first, or check the "
            "running deployment with `enclave doctor --url`.",
        )
    except (model_check.ModelCheckFailed, index_embedder.EmbedderMismatch) as exc:
        return Finding(shown, "failed", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported in a sentence
        return _failed(shown, f"The {shown} cannot be used", exc)
    return Finding(shown, "ok", f"The {shown} loads and answers.")


def _canary(runtime: Runtime) -> Finding:
    try:
        return Finding("canary", "ok", canary.round_trip(runtime))
    except canary.CanaryFailed as exc:
        return Finding("canary", "failed", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported in a sentence
        return _failed("canary", "The canary round trip failed", exc)


def check_deployment(url: str, *, timeout_s: float = 10.0) -> Iterator[Finding]:
    """A running deployment: liveness (/healthz), then each dependency (/readyz)."""
    base = url.rstrip("/")
    with httpx.Client(timeout=timeout_s) as client:
        try:
            live = client.get(f"{base}/healthz")
            ready = client.get(f"{base}/readyz")
        except httpx.HTTPError as exc:
            yield _failed("healthz", f"Nothing answers at {base}", exc)
            return
    if live.status_code != 200:
        yield Finding("healthz", "failed", f"{base}/healthz answered {live.status_code}.")
    else:
        yield Finding("healthz", "ok", f"Enclave at {base} is alive.")
    checks = _checks(ready)
    if checks is None:
        sentence = f"{base}/readyz answered {ready.status_code} without dependency checks."
        yield Finding("readyz", "failed", sentence)
        return
    for name, check in checks.items():
        yield Finding(name, *_ready_sentence(name, check))


def _checks(response: httpx.Response) -> dict[str, dict] | None:
    try:
        checks = response.json().get("checks")
    except ValueError:
        return None
    return checks if isinstance(checks, dict) and checks else None


def _ready_sentence(name: str, check: dict) -> tuple[Status, str]:
    status = check.get("status") or "down"
    said = readiness.sentence(name, status, check.get("latency_ms"), check.get("error"))
    return ("ok" if status == "ok" else "failed"), said


def invalid_settings(exc: ValidationError) -> str:
    """Settings refused at start-up, as a sentence."""
    parts = [
        f"{'.'.join(str(x) for x in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
    ]
    return "The configuration is invalid: " + "; ".join(parts) + "."
