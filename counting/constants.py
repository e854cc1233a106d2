"""Constants of counting rules and the ledger."""

from django.db import models


class Direction(models.TextChoices):
    """A crossing's direction: "in" is from the line's left side to its right side."""

    IN = "in", "In"
    OUT = "out", "Out"


IGNORE_DETECTIONS_HELP = (
    "Mask: ignore whatever is detected with its feet inside (a sign, a mannequin, a poster the "
    "detector takes for a person). A mask counts nothing and has no occupancy."
)
