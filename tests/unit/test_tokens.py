"""JWT verification in-process: each attack fails for the reason it should, and the JWKS cache
refreshes on an unknown kid at most once per interval."""

from __future__ import annotations

import pytest

from app.auth.tokens import InvalidToken, JwksCache, TokenVerifier
from app.errors import UpstreamUnavailable
from tests.idp import ATTACKS, JwtIssuer

EXPECTED = {
    "alg none": {"algorithm"},
    "HS256 signed with the RSA public key": {"algorithm"},
    "forged kid (unknown key id)": {"unknown_kid"},
    "forged kid (published id, attacker's key)": {"bad_signature"},
    "no kid": {"no_kid"},
    "embedded jwk header": {"bad_signature", "exceeded_size"},  # the jwk header is never used
    "expired": {"expired_token"},
    "not yet valid (nbf)": {"invalid_claim"},
    "no exp": {"missing_claim"},
    "wrong audience": {"invalid_claim"},
    "no audience": {"missing_claim"},
    "wrong issuer": {"invalid_claim"},
    "no subject": {"missing_claim"},
    "tampered payload (groups added after signing)": {"bad_signature"},
    "garbage": {"malformed"},
    "five-part JWE-shaped": {"malformed"},
    "unknown key-shaped secret": {"malformed"},
}


class FakeProvider:
    def __init__(self, issuer: JwtIssuer) -> None:
        self.issuer = issuer
        self.fetches = 0
        self.down = False

    def __call__(self, url: str) -> dict:
        if self.down:
            raise ValueError("provider down")
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": self.issuer.url, "jwks_uri": self.issuer.url + "/jwks"}
        self.fetches += 1
        return self.issuer.jwks()


@pytest.fixture
def issuer() -> JwtIssuer:
    issuer = JwtIssuer(url="https://idp.example")
    issuer.add_key("k1")
    return issuer


def verifier(provider: FakeProvider, *, min_refresh_s: float = 0) -> TokenVerifier:
    jwks = JwksCache(issuer=provider.issuer.url, fetch=provider, min_refresh_s=min_refresh_s)
    return TokenVerifier(
        issuer=provider.issuer.url,
        audience=provider.issuer.audience,
        algorithms=["RS256"],
        jwks=jwks,
    )


def test_every_attack_has_an_expected_reason():
    assert set(EXPECTED) == set(ATTACKS)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_each_attack_fails_for_its_reason(issuer: JwtIssuer, attack: str):
    with pytest.raises(InvalidToken) as refused:
        verifier(FakeProvider(issuer)).verify(ATTACKS[attack](issuer))
    assert refused.value.reason in EXPECTED[attack]
    assert str(refused.value) == "invalid or expired credentials"


def test_a_valid_token_yields_its_claims(issuer: JwtIssuer):
    claims = verifier(FakeProvider(issuer)).verify(issuer.mint(groups=["a"]))
    assert claims["groups"] == ["a"]
    assert claims["sub"] == "user-1"


def test_unknown_kids_refresh_at_most_once_per_interval(issuer: JwtIssuer):
    provider = FakeProvider(issuer)
    check = verifier(provider, min_refresh_s=60)
    check.verify(issuer.mint())
    assert provider.fetches == 1
    for _ in range(5):
        with pytest.raises(InvalidToken):
            check.verify(ATTACKS["forged kid (unknown key id)"](issuer))
    assert provider.fetches == 1  # a flood of forged kids does not reach the provider


def test_provider_down_before_any_keys_is_unavailable_not_accepted(issuer: JwtIssuer):
    provider = FakeProvider(issuer)
    provider.down = True
    with pytest.raises(UpstreamUnavailable):
        verifier(provider).verify(issuer.mint())


def test_provider_down_later_keeps_the_cached_keys(issuer: JwtIssuer):
    provider = FakeProvider(issuer)
    check = verifier(provider)
    check.verify(issuer.mint())
    provider.down = True
    assert check.verify(issuer.mint())["sub"] == "user-1"
    with pytest.raises(InvalidToken):
        check.verify(ATTACKS["forged kid (unknown key id)"](issuer))
