"""Secrets: HKDF-derived camera keys, key rotation, API tokens across SECRET_KEY rotation."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from cameras.crypto import (
    EncryptionKeyInvalid,
    SecretUndecryptable,
    decrypt_secret,
    derive_fernet_key,
    encrypt_secret,
)
from cameras.models import Camera
from cameras.services import camera_create, site_create

OLD_KEY = "o0JtwgDl3qQ0cZ7FbU7qk0h8yQm7n6oQm1v2o4f3rNQ="
NEW_KEY = "eouV1EWoJf_iTOcyvBSIp1BedXg9kwGPvvDe4SOXh3g="


def test_the_cipher_key_is_derived_with_hkdf_not_used_as_configured(settings: Any) -> None:
    # given a configured key
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    # when a secret is encrypted
    token = encrypt_secret("s3cret")
    # then it opens with the HKDF-derived key and not with the configured key used directly
    assert Fernet(derive_fernet_key(NEW_KEY)).decrypt(token.encode()) == b"s3cret"
    with pytest.raises(InvalidToken):
        Fernet(NEW_KEY.encode()).decrypt(token.encode())
    assert decrypt_secret(token) == "s3cret"


@pytest.mark.parametrize("weak", [
    "password",                                              # not base64 of enough bytes
    base64.urlsafe_b64encode(b"sixteen-byte-key").decode(),  # 16 bytes: too short
    "not base64 at all!",                                    # not base64
])
def test_weak_or_malformed_keys_are_refused(settings: Any, weak: str) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [weak]
    with pytest.raises(EncryptionKeyInvalid):
        encrypt_secret("s3cret")


def _camera(owner: Any, name: str) -> Camera:
    site = site_create(actor=owner, name=f"{name} site")
    return camera_create(actor=owner, site=site, name=name, stream_url="rtsp://10.0.0.7/live",
                         username="admin", password="cam-pass-1")


def test_rotation_re_encrypts_with_the_new_key_and_then_the_old_key_can_go(
        tenant_a: Any, in_tenant: Any, owner_of: Any, settings: Any) -> None:
    # given a camera password stored under the old key, and one stored by the earlier
    # derivation (the Fernet key used as it was)
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    with in_tenant(tenant_a):
        owner = owner_of("a")
        camera = _camera(owner, "Rotated")
        legacy = _camera(owner, "Legacy")
        Camera.objects.filter(pk=legacy.pk).update(
            password_encrypted=Fernet(OLD_KEY.encode()).encrypt(b"legacy-pass").decode())
    # when a new key is put first and the old one kept after it
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    # then both passwords are still readable, and --check says a rotation is pending
    with in_tenant(tenant_a):
        assert Camera.objects.get(pk=camera.pk).password == "cam-pass-1"
        assert Camera.objects.get(pk=legacy.pk).password == "legacy-pass"
    with pytest.raises(CommandError, match="not yet on the first key"):
        call_command("rotate_camera_keys", "--tenant", "tenant_a", "--check")
    # when the rotation runs
    call_command("rotate_camera_keys", "--tenant", "tenant_a")
    # then it is done (--check passes), audited, and the old key can be removed
    call_command("rotate_camera_keys", "--tenant", "tenant_a", "--check")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with in_tenant(tenant_a):
        assert Camera.objects.get(pk=camera.pk).password == "cam-pass-1"
        assert Camera.objects.get(pk=legacy.pk).password == "legacy-pass"
        event = AuditEvent.objects.filter(action="camera.keys_rotate").latest("seq")
        assert {camera.pk, legacy.pk} <= set(event.after["cameras"])


def test_a_removed_key_gives_a_clear_camera_error_not_a_crash(
        tenant_a: Any, in_tenant: Any, owner_of: Any, settings: Any) -> None:
    from counting.runner.config import RunnerConfig
    from counting.runner.connection import StreamConnection

    # given a camera whose password was encrypted with a key that is then removed
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    with in_tenant(tenant_a):
        camera = _camera(owner_of("a"), "Orphaned")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with in_tenant(tenant_a):
        camera = Camera.objects.get(pk=camera.pk)
        with pytest.raises(SecretUndecryptable):
            _ = camera.password
        # when the stream runner's connection tries to open it
        states: list[tuple[str, str]] = []
        connection = StreamConnection(camera=camera, config=RunnerConfig.from_settings(),
                                      stop_event=threading.Event(),
                                      on_state=lambda s, r: states.append((s, r)),
                                      on_open=lambda: None)
        deadline = time.monotonic() + 5
        while not states and time.monotonic() < deadline:
            assert connection.read() is None
        connection.close()
    # then the camera is in error, saying what happened and what to do
    assert states and states[0][0] == "error"
    assert "cannot be decrypted with FIELD_ENCRYPTION_KEYS" in states[0][1]
    assert "enter the camera's password again" in states[0][1]
    # and the rotation names the camera instead of failing silently
    with pytest.raises(CommandError, match="no configured key decrypts"):
        call_command("rotate_camera_keys", "--tenant", "tenant_a")


def test_api_tokens_survive_a_secret_key_rotation_through_fallbacks(
        tenant_a: Any, in_tenant: Any, owner_of: Any, settings: Any) -> None:
    from tenants.accounts.models import ApiToken
    from tenants.accounts.tokens import token_authenticate, token_create

    old_secret = "old-" + "k" * 60
    settings.SECRET_KEY = old_secret
    with in_tenant(tenant_a):
        owner = owner_of("a")
        issued = token_create(actor=owner, user=owner, name="rotation")
        # given SECRET_KEY rotated without a fallback, the token is refused (as before)
        settings.SECRET_KEY = "new-" + "n" * 60
        settings.SECRET_KEY_FALLBACKS = []
        assert token_authenticate(issued.plaintext) is None
        # when the old key is kept in SECRET_KEY_FALLBACKS
        settings.SECRET_KEY_FALLBACKS = [old_secret]
        # then the token still authenticates, and is re-hashed under the new key
        assert token_authenticate(issued.plaintext) == issued.token
        settings.SECRET_KEY_FALLBACKS = []
        assert token_authenticate(issued.plaintext) == issued.token
        assert ApiToken.objects.get(pk=issued.token.pk).secret_hash != issued.token.secret_hash


def test_a_snapshot_of_a_camera_with_an_undecryptable_password_says_why(
        tenant_a: Any, in_tenant: Any, owner_of: Any, settings: Any) -> None:
    from cameras.api.snapshot import SnapshotError, snapshot_grab

    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    with in_tenant(tenant_a):
        camera = _camera(owner_of("a"), "Snapshot orphan")
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    with in_tenant(tenant_a):
        with pytest.raises(SnapshotError, match="enter the camera's password again"):
            snapshot_grab(camera=Camera.objects.get(pk=camera.pk))
