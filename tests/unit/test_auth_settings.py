"""The auth settings fail closed: production needs an identity provider or an explicit local
admin; only asymmetric JWT algorithms; the cookie is Secure in production."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from app.auth.settings import AuthSettings
from app.settings import Settings

REAL_SECRET = SecretStr("x" * 64)


def test_production_refuses_to_start_without_a_provider():
    with pytest.raises(ValidationError, match="OIDC provider"):
        Settings(mode="production", secret_key=REAL_SECRET)


def test_production_with_a_provider_has_no_local_admin_and_secure_cookies():
    settings = Settings(
        mode="production", secret_key=REAL_SECRET, auth=AuthSettings(issuer="https://idp")
    )
    assert settings.local_admin is False
    assert settings.cookie_secure is True


def test_production_may_enable_the_local_admin_explicitly():
    settings = Settings(
        mode="production", secret_key=REAL_SECRET, auth=AuthSettings(local_admin=True)
    )
    assert settings.local_admin is True


def test_the_embedded_default_has_the_local_admin():
    settings = Settings()
    assert settings.local_admin is True
    assert settings.cookie_secure is False


@pytest.mark.parametrize("algorithms", [["HS256"], ["none"], [], ["RS256", "HS512"]])
def test_only_asymmetric_algorithms_may_be_pinned(algorithms):
    with pytest.raises(ValidationError, match="asymmetric"):
        AuthSettings(algorithms=algorithms)


def test_group_roles_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(
        "ENCLAVE_AUTH__GROUP_ROLES",
        '{"cardiology": ["reader:cardiology"], "dpo": ["compliance_officer"]}',
    )
    monkeypatch.setenv("ENCLAVE_AUTH__ISSUER", "https://idp.example/realms/x")
    settings = Settings()
    assert settings.auth.group_roles["dpo"] == ["compliance_officer"]
    assert settings.auth.token_audience == "enclave"
