"""Signed erasure receipts: Ed25519 over the canonical JSON of the receipt.

A signed receipt is `{"receipt": {...}, "signature": "<base64>"}`; the receipt names the key
(`key_id`: "ed25519:" + the first 16 hex digits of the public key's sha256). Anyone holding the
deployment's public key can check it offline (`enclave verify-receipt`). Receipts carry ids,
hashes, times, counts and the requester's reason or reference (a case or ticket id), never
content or file names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

RECEIPT_TYPE = "enclave.erasure-receipt/v1"


class InvalidReceipt(ValueError):
    """The receipt is malformed, signed by another key, or was altered after signing."""


def load_or_create_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """The deployment's signing key from a PEM file; created (mode 0600) when allowed."""
    if not path.exists():
        if not create:
            raise FileNotFoundError(
                f"no receipt signing key at {path}; create one with `openssl genpkey "
                "-algorithm ed25519 -out <file>` and set ENCLAVE_ERASURE__SIGNING_KEY"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return loaded


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidReceipt("the public key is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidReceipt("the public key is not an Ed25519 key")
    return key


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def canonical(receipt: dict[str, Any]) -> bytes:
    return json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(receipt: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    body = {**receipt, "type": RECEIPT_TYPE, "key_id": key_id(key)}
    signature = base64.b64encode(key.sign(canonical(body))).decode()
    return {"receipt": body, "signature": signature}


def verify(signed: Any, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The receipt if `signed` carries a valid signature by `public_key`; else `InvalidReceipt`."""
    if not isinstance(signed, dict) or not isinstance(signed.get("receipt"), dict):
        raise InvalidReceipt("not a signed receipt: expected {'receipt': {...}, 'signature': ...}")
    receipt = signed["receipt"]
    if receipt.get("type") != RECEIPT_TYPE:
        raise InvalidReceipt(f"not an Enclave erasure receipt (type {receipt.get('type')!r})")
    if receipt.get("key_id") != key_id(public_key):
        raise InvalidReceipt(
            f"signed by key {receipt.get('key_id')!r}, not by the given key {key_id(public_key)!r}"
        )
    try:
        signature = base64.b64decode(str(signed.get("signature", "")), validate=True)
        public_key.verify(signature, canonical(receipt))
    except (InvalidSignature, ValueError) as exc:
        raise InvalidReceipt("the signature does not match: the receipt was altered") from exc
    return receipt
