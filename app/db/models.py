"""Metadata tables. Content (chunk text) lives in the index, never here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes from timezone-aware columns: they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    documents: Mapped[list[Document]] = relationship(
        back_populates="collection", cascade="all, delete-orphan", passive_deletes=True
    )


class Document(Base):
    """One uploaded file.

    `status` walks queued → parsing → chunking → embedding → indexed, or ends failed.
    """

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("collection_id", "content_hash", name="uq_document_content"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    collection_id: Mapped[str] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    size_bytes: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the original bytes
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)  # a reason, never content
    pages: Mapped[int | None] = mapped_column(Integer, default=None)
    chunks_total: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    collection: Mapped[Collection] = relationship(back_populates="documents")


class Job(Base):
    """A unit of worker work, claimed atomically; survives restarts.

    A job is also an index generation: the points it writes carry its id, and `index_state`
    says whether searches may see them: "none" (nothing written yet), "pending" (being
    written: hidden), "live" (the document's current version), "retired" (superseded, failed
    or being erased: hidden until the worker deletes them, then the row goes too).
    Its original is stored under the job's id.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="ingest")
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    locked_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    index_state: Mapped[str] = mapped_column(String(16), default="none", index=True)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class Erasure(Base):
    """A request to erase a document, and once done its signed receipt (ids, hashes, counts;
    never content or file names). The document id stays here after the document is gone."""

    __tablename__ = "erasures"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    collection_id: Mapped[str] = mapped_column(String(36), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))  # the officer's reference, e.g. a case id
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    state: Mapped[str] = mapped_column(String(16), default="requested")  # requested, completed
    receipt: Mapped[dict | None] = mapped_column(JSON, default=None)


# --- identity, access and audit (issue 4) -------------------------------------------------------


class User(Base):
    """A person known to Enclave: signed in through OIDC, or the embedded default's local admin.

    `subject` is "<issuer>|<sub>" for OIDC users and "local|admin" for the local admin.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject: Mapped[str] = mapped_column(String(512), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str] = mapped_column(String(255), default="", index=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The local admin's one-time sign-in secret (sha256 of it) and its expiry; one at a time.
    sign_in_token_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    sign_in_token_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def label(self) -> str:
        """How a person is shown to admins and officers: name and e-mail (else the id)."""
        return " · ".join(part for part in (self.name, self.email) if part) or self.id


class UserSession(Base):
    """A signed-in browser. The cookie carries a random id; only its sha256 is stored here, so
    a copy of the database yields no usable session. Logout revokes it at once."""

    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)  # the IdP's groups at sign-in
    via: Mapped[str] = mapped_column(String(16))  # "oidc" or "local"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class RoleBinding(Base):
    """A role granted in Enclave to a user or an IdP group: on one collection, or global
    (collection_id NULL) for platform_admin and compliance_officer."""

    __tablename__ = "role_bindings"
    __table_args__ = (
        UniqueConstraint(
            "subject_kind", "subject", "collection_id", "role", name="uq_role_binding"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject_kind: Mapped[str] = mapped_column(String(8))  # "user" (users.id) or "group"
    subject: Mapped[str] = mapped_column(String(255), index=True)
    collection_id: Mapped[str | None] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True, default=None
    )
    role: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A bearer secret for an internal app, scoped to collections and permissions.

    Only an HMAC-SHA256 of the secret (keyed with a pepper derived from the server secret) is
    stored; `prefix` is its first characters, to recognise a key in a list.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    permissions: Mapped[str] = mapped_column(String(32))  # "read" or "read write"
    created_by: Mapped[str] = mapped_column(String(36))  # users.id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(36), default=None)

    collections: Mapped[list[ApiKeyCollection]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


class ApiKeyCollection(Base):
    __tablename__ = "api_key_collections"

    api_key_id: Mapped[str] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    collection_id: Mapped[str] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AuditEvent(Base):
    """One security-relevant event: who, what, on which collection or document, when, outcome.

    Append-only (database triggers refuse UPDATE and DELETE). Ids and reason codes only, never
    content: no query, file name, token or key.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255), default="")  # users.id / api key id / ""
    actor_kind: Mapped[str] = mapped_column(String(16), default="")  # user, api_key, anonymous
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok, denied
    collection_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    document_id: Mapped[str | None] = mapped_column(String(36), default=None)
    target: Mapped[str | None] = mapped_column(String(255), default=None)  # key/binding/user id
    reason: Mapped[str | None] = mapped_column(String(64), default=None)  # a code, not text
    detail: Mapped[dict | None] = mapped_column(JSON, default=None)  # ids and codes only
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    client: Mapped[str | None] = mapped_column(String(64), default=None)  # source IP


class IndexSetting(Base):
    """A fact about the whole index that every process must agree on, e.g. `embedder`: the
    model whose vectors it holds (`app.index_embedder`)."""

    __tablename__ = "index_settings"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
