"""Constants of counting rules and the ledger."""

from django.db import models

from cameras.constants import CameraStatus


class Direction(models.TextChoices):
    """A crossing's direction: "in" is from the line's left side to its right side."""

    IN = "in", "In"
    OUT = "out", "Out"


# A stream's health uses the camera's own status vocabulary (one source of truth for states).
HealthState = CameraStatus

LEASE_TTL_SECONDS = 30  # a lease whose heartbeat is older than this is free to take
