"""Identity: who is calling (OIDC sessions, OIDC access tokens, API keys, the local admin)."""
