"""Service functions: keyword-only, take a session and the caller's scope, raise `EnclaveError`s."""
