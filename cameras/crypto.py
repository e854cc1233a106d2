"""Encryption at rest for camera credentials (Fernet, with key rotation through MultiFernet)."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _as_fernet_key(raw: str) -> bytes:
    try:
        key = raw.encode()
        Fernet(key)
        return key
    except (ValueError, TypeError):
        # Accept any secret string by deriving a Fernet key from it.
        return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise RuntimeError("FIELD_ENCRYPTION_KEYS is empty: camera passwords cannot be stored.")
    return MultiFernet([Fernet(_as_fernet_key(key)) for key in keys])


def encrypt_secret(plaintext: str) -> str:
    """Encrypt with the first key; an empty secret stays empty."""
    if not plaintext:
        return ""
    return _cipher(tuple(settings.FIELD_ENCRYPTION_KEYS)).encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    """Decrypt with any configured key; a clear error if no key fits."""
    if not token:
        return ""
    try:
        return _cipher(tuple(settings.FIELD_ENCRYPTION_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError(
            "A camera password cannot be decrypted with FIELD_ENCRYPTION_KEYS: was the key "
            "changed without keeping the old one in the list?"
        ) from exc
