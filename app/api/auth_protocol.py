"""Request and response models of the identity endpoints: /auth, API keys, role bindings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.protocol import CollectionRef


class AuthConfigOut(BaseModel):
    oidc: bool = Field(description="Sign-in through the organisation's identity provider.")
    local_admin: bool = Field(description="The local admin may sign in with a one-time link.")


class CollectionAccess(BaseModel):
    id: str
    name: str
    permissions: list[str]


class MeOut(BaseModel):
    id: str
    name: str
    kind: Literal["user", "api_key"]
    via: str
    global_roles: list[str]
    collections: list[CollectionAccess]
    csrf_token: str | None = Field(
        None, description="Send as X-CSRF-Token on state-changing requests made with the cookie."
    )


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=100, examples=["intranet-search"])
    collections: list[CollectionRef] = Field(
        ..., min_length=1, max_length=50, description="Ids or names."
    )
    permissions: list[Literal["read", "write"]] = Field(["read"], min_length=1, max_length=2)
    expires_in_days: int = Field(90, ge=1, le=366)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    collections: list[str]
    permissions: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret: shown this once, stored only as a hash.")


class BindingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["user", "group"]
    subject: str = Field(
        ...,
        min_length=1,
        max_length=255,
        description="A user's id, e-mail or IdP subject (someone not signed in yet: e-mail or "
        "IdP subject), or a group name.",
    )
    role: str = Field(
        ..., min_length=1, max_length=64, examples=["reader", "contributor", "collection_admin"]
    )


class BindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    subject_kind: str = Field(
        description="user, group, or for someone not signed in yet: email or subject (IdP)."
    )
    subject: str = Field(description="A user's id, a group's name, an e-mail or IdP subject.")
    subject_label: str = Field("", description="The user's name and e-mail; the group's name.")
    role: str
    collection_id: str | None
    created_by: str
    created_at: datetime
