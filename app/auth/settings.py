"""The `auth` section of the settings: the OIDC provider, role mapping, sessions, local admin."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

GLOBAL_ROLES = frozenset({"platform_admin", "compliance_officer"})
COLLECTION_ROLES = ("reader", "contributor", "collection_admin")  # each includes the one before


def parse_grant(grant: str) -> tuple[str, str | None]:
    """'platform_admin' → (role, None); 'reader:cardiology' → ('reader', 'cardiology')."""
    role, _, collection = grant.partition(":")
    if role in GLOBAL_ROLES and not collection:
        return role, None
    if role in COLLECTION_ROLES and collection:
        return role, collection
    raise ValueError(
        f"unknown grant {grant!r}: use one of {sorted(GLOBAL_ROLES)} or "
        f"'<{'|'.join(COLLECTION_ROLES)}>:<collection name>'"
    )


class AuthSettings(BaseModel):
    """ENCLAVE_AUTH__*. Without an issuer only the local admin (and API keys) can sign in."""

    issuer: str | None = Field(None, description="OIDC issuer URL, e.g. https://idp.example/realm")
    discovery_url: str | None = None  # default: <issuer>/.well-known/openid-configuration
    jwks_url: str | None = None  # default: the discovery document's jwks_uri
    client_id: str = "enclave"
    client_secret: SecretStr | None = None
    audience: str | None = None  # bearer access tokens must name it; default: client_id
    algorithms: list[str] = ["RS256"]  # pinned: a token with any other `alg` is refused
    scopes: str = "openid profile email"
    redirect_url: str | None = None  # default: <this server>/auth/callback, as the browser sees it
    leeway_s: int = Field(30, ge=0, le=300)  # clock skew allowed on exp / nbf / iat
    jwks_cache_s: int = Field(3600, ge=0)
    jwks_min_refresh_s: float = Field(30, ge=0)  # at most one unknown-kid refresh this often
    group_claim: str = "groups"
    # IdP group → grants, e.g. {"cardiology": ["reader:cardiology"], "it-ops": ["platform_admin"]}
    group_roles: dict[str, list[str]] = {}
    session_lifetime_s: int = Field(8 * 3600, ge=60)
    cookie_secure: bool | None = None  # default: on in production, off in the embedded default
    local_admin: bool | None = None  # default: on in the embedded default, off in production
    sign_in_link_ttl_s: int = Field(3600, ge=60)
    # Refusals of unidentified callers: one audit row per (client, reason) per window, with a
    # count of the repeats; 0 records every one.
    denial_window_s: float = Field(60, ge=0)

    @field_validator("group_roles")
    @classmethod
    def _grants_are_known(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for grants in value.values():
            for grant in grants:
                parse_grant(grant)
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        allowed = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}
        if not value or set(value) - allowed:
            raise ValueError(f"algorithms must be asymmetric signatures from {sorted(allowed)}")
        return value

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.issuer)

    @property
    def token_audience(self) -> str:
        return self.audience or self.client_id
