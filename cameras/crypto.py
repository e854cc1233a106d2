"""Encryption at rest for camera credentials: keys derived with HKDF, rotation with MultiFernet.

``FIELD_ENCRYPTION_KEYS`` is a list of secrets, newest first. Each must be urlsafe base64 of at
least 32 random bytes (``Fernet.generate_key()`` makes one). The Fernet key actually used is
derived from it with HKDF-SHA256 under a fixed, purpose-bound ``info``, so the configured
secret is never used directly as a cipher key and the same secret could serve another purpose
under another ``info`` without the two keys being related.

- ``encrypt_secret`` always encrypts with the first key.
- ``decrypt_secret`` accepts a token made with any listed key (MultiFernet), and also tokens
  made by the earlier derivation (the key used as it was, or a SHA-256 of it), so that existing
  camera passwords stay readable until ``manage.py rotate_camera_keys`` re-encrypts them.
- ``secret_rotate`` re-encrypts a token with the first key (``MultiFernet.rotate``).

A token no listed key can open raises :class:`SecretUndecryptable` (a key was removed before
the rotation finished); callers turn it into a camera status, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Bytes of entropy a configured key must carry at least.
KEY_MIN_BYTES = 32
# Binds derived keys to this use: another purpose derives another key from the same secret.
_HKDF_INFO = b"peoplecount/cameras/credentials/v1"
_HKDF_SALT = b"peoplecount-field-encryption"


class EncryptionKeyInvalid(ValueError):
    """A configured ``FIELD_ENCRYPTION_KEYS`` entry is not a usable key."""


class SecretUndecryptable(RuntimeError):
    """A stored secret cannot be decrypted with any of ``FIELD_ENCRYPTION_KEYS``."""


def key_material(raw: str) -> bytes:
    """The bytes of one configured key; refuses anything but urlsafe base64 of >= 32 bytes."""
    text = (raw or "").strip()
    try:
        material = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise EncryptionKeyInvalid(
            "A FIELD_ENCRYPTION_KEYS entry is not urlsafe base64: generate one with "
            "python -c \"from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())\"") from exc
    if len(material) < KEY_MIN_BYTES:
        raise EncryptionKeyInvalid(
            f"A FIELD_ENCRYPTION_KEYS entry holds {len(material)} bytes; at least "
            f"{KEY_MIN_BYTES} random bytes are needed (Fernet.generate_key() makes one).")
    return material


def derive_fernet_key(raw: str) -> bytes:
    """The Fernet key derived from one configured key with HKDF-SHA256."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT,
                   info=_HKDF_INFO).derive(key_material(raw))
    return base64.urlsafe_b64encode(derived)


def _legacy_fernet_key(raw: str) -> bytes:
    # Before HKDF: a valid Fernet key was used as it was, any other string through one SHA-256.
    key = raw.encode()
    try:
        Fernet(key)
        return key
    except (ValueError, TypeError):
        return base64.urlsafe_b64encode(hashlib.sha256(key).digest())


@lru_cache(maxsize=8)
def _ciphers(keys: tuple[str, ...]) -> tuple[MultiFernet, MultiFernet, Fernet]:
    """(current keys, current + legacy keys for reading, the primary key alone)."""
    if not keys:
        raise EncryptionKeyInvalid(
            "FIELD_ENCRYPTION_KEYS is empty: camera passwords cannot be stored.")
    current = [Fernet(derive_fernet_key(key)) for key in keys]
    legacy = [Fernet(_legacy_fernet_key(key)) for key in keys]
    return MultiFernet(current), MultiFernet(current + legacy), current[0]


def _configured() -> tuple[MultiFernet, MultiFernet, Fernet]:
    return _ciphers(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_secret(plaintext: str) -> str:
    """Encrypt with the first key; an empty secret stays empty."""
    if not plaintext:
        return ""
    return _configured()[0].encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    """Decrypt with any configured key; :class:`SecretUndecryptable` if none fits."""
    if not token:
        return ""
    try:
        return _configured()[1].decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUndecryptable(
            "The camera's stored password cannot be decrypted with FIELD_ENCRYPTION_KEYS: the "
            "key it was encrypted with was removed before `manage.py rotate_camera_keys` "
            "re-encrypted it. Put the old key back at the end of the list and run the "
            "rotation, or enter the camera's password again.") from exc


def secret_is_current(token: str) -> bool:
    """Whether ``token`` is encrypted with the first (primary) key already."""
    if not token:
        return True
    try:
        _configured()[2].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def secret_rotate(token: str) -> str:
    """``token`` re-encrypted with the first key (unchanged if empty or current already);
    :class:`SecretUndecryptable` if no configured key opens it."""
    if not token or secret_is_current(token):
        return token
    # The readers' first key is the primary one: rotate() decrypts with any, encrypts with it.
    try:
        return _configured()[1].rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUndecryptable(
            "No key in FIELD_ENCRYPTION_KEYS decrypts this secret.") from exc
