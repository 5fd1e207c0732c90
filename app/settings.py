"""The process settings: one `Settings` built at start-up from ENCLAVE_* variables, passed down.

Nested sections use `__`: ENCLAVE_VECTOR_STORE__KIND=qdrant, ENCLAVE_GENERATOR__BASE_URL=...
Library code never imports this module; it receives its own section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.auth.settings import AuthSettings
from ingestion.settings import IngestionSettings
from retrieval.settings import (
    BM25Settings,
    EmbedderSettings,
    RerankerSettings,
    RetrievalSettings,
    VectorStoreSettings,
)
from serving.settings import AnswerSettings, GeneratorSettings


class DatabaseSettings(BaseModel):
    url: str | None = None  # default: sqlite:///<data_dir>/enclave.db
    echo: bool = False
    # Connections: default = the request threads + the upload threads + 4 (worker, erasure), so
    # a request never waits for one; a checkout that still waits `pool_timeout_s` is a 503.
    pool_size: int | None = Field(None, ge=1)
    pool_timeout_s: float = Field(5.0, gt=0)


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: int = Field(100, ge=1)
    # Uploads stream in on threads of their own: slow ones queue among themselves.
    upload_threads: int = Field(8, ge=1)
    run_worker: bool = True  # the embedded default runs the ingestion worker in-process
    # Threads that run the (blocking) route handlers; requests beyond them wait their turn.
    threads: int = Field(40, ge=1)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 2**20

    @property
    def url(self) -> str:
        """Where a browser on this machine reaches the server (a wildcard bind: loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


class LimitSettings(BaseModel):
    """Bounds on every request, enforced before it costs anything (README: Limits).

    Rates are `limits` strings ("60/minute", "10/second"; "" turns one off), counted per caller
    (API key, token subject or browser session) and per client address."""

    max_body_kb: int = Field(256, ge=1)  # JSON bodies; uploads have server.max_upload_mb
    body_timeout_s: float = Field(10.0, gt=0)  # a JSON body must arrive within this
    header_timeout_s: float = Field(10.0, gt=0)  # a request's headers must arrive within this
    budget_s: float = Field(60.0, gt=0)  # retrieval + generation of one request
    max_in_flight: int = Field(256, ge=1)  # requests served at once; beyond it a fast 503
    retry_after_s: int = Field(1, ge=1)  # the Retry-After of a 503 when saturated
    search: str = "300/minute"
    search_per_address: str = "600/minute"
    answer: str = "60/minute"  # /v1/answer and /v1/chat/completions
    answer_per_address: str = "120/minute"
    upload: str = "120/minute"
    upload_per_address: str = "240/minute"
    sign_in_per_address: str = "30/minute"  # sign-in attempts (local links, OIDC)


class ErasureSettings(BaseModel):
    # The Ed25519 key that signs erasure receipts (PEM). Embedded: created on first use under
    # <data_dir>/keys/. Production: must exist (the deployment holds it).
    signing_key: Path | None = None
    # The erasure log, replayed after a restore: keep it OUT of what a restore overwrites.
    log_path: Path | None = None
    cancel_wait_s: float = Field(120.0, gt=0)  # how long an erasure waits for ingestion to stop
    # The receipt is signed no sooner than this after the document was hidden: longer than a
    # search takes from its final visibility check to its response.
    query_grace_s: float = Field(1.0, ge=0)


class WorkerSettings(BaseModel):
    """Ingestion workers. A running job whose worker sent no heartbeat for `lease_s` is given to
    another worker (its own is presumed dead); heartbeats and sweeps happen every quarter lease.
    A shorter lease recovers sooner from a crash but tolerates shorter database outages."""

    lease_s: float = Field(120.0, ge=1.0)
    poll_interval_s: float = Field(1.0, gt=0)


class MetricsSettings(BaseModel):
    """`GET /metrics` (Prometheus). With `token` set, a scrape must send `Authorization: Bearer
    <token>`; without one, the embedded default serves loopback clients only and production
    serves no one (404). `/readyz` runs each dependency check with `readiness_timeout_s`."""

    enabled: bool = True
    token: SecretStr | None = None
    readiness_timeout_s: float = Field(2.0, gt=0)

    @model_validator(mode="after")
    def _refuse_weak_token(self) -> MetricsSettings:
        if self.token is not None and len(self.token.get_secret_value()) < 16:
            raise ValueError("ENCLAVE_METRICS__TOKEN must be at least 16 characters")
        return self


class ModelSettings(BaseModel):
    """Model checksums (`app.model_check`): every model file a process loads is first checked
    against `manifest` (default: the manifest of the bundle Enclave was installed from,
    <venv>/share/enclave/manifest.json). Without one, a model is loaded unverified unless
    `require_manifest` (default: in production), which refuses to start."""

    manifest: Path | None = None
    require_manifest: bool | None = None


class Settings(BaseSettings):
    """Everything one Enclave process needs. `mode=embedded` is the one-command default."""

    model_config = SettingsConfigDict(
        env_prefix="ENCLAVE_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    mode: Literal["embedded", "production"] = "embedded"
    data_dir: Path = Path("data")
    secret_key: SecretStr = SecretStr("embedded-default-not-secret")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Uploads and writes to the embedded index are refused while the disk under them has less
    # than this free: a document fails with the reason, the service stays up and searchable.
    min_free_mb: int = Field(512, ge=0)

    auth: AuthSettings = Field(default_factory=AuthSettings)
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    limits: LimitSettings = LimitSettings()
    worker: WorkerSettings = WorkerSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    vector_store: VectorStoreSettings = VectorStoreSettings()
    bm25: BM25Settings = BM25Settings()
    reranker: RerankerSettings = RerankerSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    generator: GeneratorSettings = GeneratorSettings()
    answer: AnswerSettings = AnswerSettings()
    ingestion: IngestionSettings = IngestionSettings()
    erasure: ErasureSettings = ErasureSettings()
    metrics: MetricsSettings = MetricsSettings()
    models: ModelSettings = ModelSettings()

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.mode == "production" and "not-secret" in self.secret_key.get_secret_value():
            raise ValueError("ENCLAVE_SECRET_KEY must be set to a real secret in production mode")
        if self.mode == "production" and not self.auth.oidc_enabled and not self.local_admin:
            raise ValueError(
                "production mode needs an OIDC provider (ENCLAVE_AUTH__ISSUER) or the local "
                "admin enabled explicitly (ENCLAVE_AUTH__LOCAL_ADMIN=true)"
            )
        store = self.vector_store
        if self.mode == "production" and store.kind == "qdrant" and store.url in (None, ":memory:"):
            raise ValueError(
                "production mode needs a Qdrant server (ENCLAVE_VECTOR_STORE__URL=http://...): "
                "qdrant-client's local mode is for tests (slow, and its deletes are not purged)"
            )
        return self

    @property
    def local_admin(self) -> bool:
        """Whether the local admin may sign in (one-time links); default: embedded only."""
        if self.auth.local_admin is None:
            return self.mode == "embedded"
        return self.auth.local_admin

    @property
    def cookie_secure(self) -> bool:
        if self.auth.cookie_secure is None:
            return self.mode == "production"
        return self.auth.cookie_secure

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.data_dir / 'enclave.db').resolve()}"

    @property
    def pool_size(self) -> int:
        return self.database.pool_size or self.server.threads + self.server.upload_threads + 4

    @property
    def min_free_bytes(self) -> int:
        return self.min_free_mb * 2**20

    @property
    def index_path(self) -> Path:
        return self.vector_store.path or self.data_dir / "index"

    @property
    def signing_key_path(self) -> Path:
        return self.erasure.signing_key or self.data_dir / "keys" / "receipt-signing.pem"

    @property
    def erasure_log_path(self) -> Path:
        return self.erasure.log_path or self.data_dir / "erasure-log.jsonl"

    @property
    def originals_dir(self) -> Path:
        return self.data_dir / "originals"
