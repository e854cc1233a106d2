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

IGNORE_DETECTIONS_HELP = (
    "Mask: ignore whatever is detected with its feet inside (a sign, a mannequin, a poster the "
    "detector takes for a person). A mask counts nothing and has no occupancy."
)
