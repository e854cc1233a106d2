"""Sites (places with a timezone and opening hours) and their cameras."""

from __future__ import annotations

import json
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from cameras.constants import (
    DEFAULT_DETECT_FPS,
    DETECT_FPS_HELP,
    DETECT_FPS_MAX,
    DETECT_FPS_MIN,
    CameraStatus,
)
from cameras.crypto import decrypt_secret, encrypt_secret


def default_opening_hours() -> dict[str, list[list[str]]]:
    return {}


class Site(models.Model):
    """A place counted by cameras: a store, a mall entrance, an office floor.

    ``opening_hours`` maps weekday (mon..sun) to a list of ``["HH:MM", "HH:MM"]`` ranges in the
    site's ``timezone``; a day with no entry is closed.
    """

    name = models.CharField(max_length=200)
    address = models.CharField(max_length=500, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    opening_hours = models.JSONField(default=default_opening_hours, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Camera(models.Model):
    """An IP camera of a site. Its password and the query-string credentials of its stream URL
    are stored encrypted and never shown."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="cameras")
    name = models.CharField(max_length=200)
    stream_url = models.CharField(max_length=2000)
    username = models.CharField(max_length=200, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    # Query-string credentials of stream_url (?user=..&pwd=..), encrypted JSON [[name, value]];
    # stream_url keeps the parameters with the value "***" (cameras.url_secrets).
    url_secrets_encrypted = models.TextField(blank=True, editable=False)
    detect_fps = models.FloatField(
        default=DEFAULT_DETECT_FPS,
        validators=[MinValueValidator(DETECT_FPS_MIN), MaxValueValidator(DETECT_FPS_MAX)],
        help_text=DETECT_FPS_HELP,
    )
    enabled = models.BooleanField(default=True)
    # The camera's own detector model (platform registry, public schema); empty: the tenant's
    # or its plan's choice (counting.model_choice). Registry rows are never deleted.
    ai_model = models.ForeignKey(
        "platform.AiModel", null=True, blank=True, on_delete=models.DO_NOTHING,
        related_name="+", verbose_name="detector model",
        help_text="empty: the tenant's or its plan's model")
    status = models.CharField(max_length=16, choices=CameraStatus.choices,
                              default=CameraStatus.STARTING)
    status_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["site_id", "name", "id"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Camera {self.pk} {self.name!r}>"

    @property
    def password(self) -> str:
        return decrypt_secret(self.password_encrypted)

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = encrypt_secret(value)

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    @property
    def url_secrets(self) -> list[tuple[str, str]]:
        """The query-string credentials of the stream URL, decrypted: (name, raw value)."""
        if not self.url_secrets_encrypted:
            return []
        return [(str(n), str(v)) for n, v in json.loads(decrypt_secret(self.url_secrets_encrypted))]

    @url_secrets.setter
    def url_secrets(self, secrets: list[tuple[str, str]]) -> None:
        self.url_secrets_encrypted = encrypt_secret(json.dumps([list(s) for s in secrets])
                                                    if secrets else "")

    @property
    def url_secret_names(self) -> list[str]:
        """Names of the query-string credentials that are set (for display and audit)."""
        return sorted({name for name, _ in self.url_secrets})

    def audit_values(self) -> dict[str, Any]:
        """The values kept in the audit trail; the password only as set or not."""
        return {
            "site": self.site_id, "name": self.name, "stream_url": self.stream_url,
            "username": self.username, "password_set": self.has_password,
            "url_secrets": self.url_secret_names,
            "detect_fps": self.detect_fps, "enabled": self.enabled,
            "ai_model": self.ai_model_id,
        }
