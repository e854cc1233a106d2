"""Constants of counting rules and the ledger."""

from django.db import models


class Direction(models.TextChoices):
    """A crossing's direction: "in" is from the line's left side to its right side."""

    IN = "in", "In"
    OUT = "out", "Out"


class EntranceDirection(models.TextChoices):
    """Whether a line or zone is an entrance of its site, and which way means "entering".

    For a line, ``in`` means its in-crossings enter the site (``out`` the reverse). For a
    zone, ``in`` means entering the zone enters the site (its entries are the site's
    entries), ``out`` the reverse. Empty: not an entrance; counted as its own numbers only.
    """

    NONE = "", "Not an entrance"
    IN = "in", "Entrance: in is entering"
    OUT = "out", "Entrance: out is entering"


ENTRANCE_HELP = (
    "Site entrance: which direction means entering the site. Site footfall and occupancy "
    "come from the entrances only; other lines and zones keep their own counts."
)

IGNORE_DETECTIONS_HELP = (
    "Mask: ignore whatever is detected with its feet inside (a sign, a mannequin, a poster the "
    "detector takes for a person). A mask counts nothing and has no occupancy."
)


class HealthCondition(models.TextChoices):
    """Whether a camera's frames are being analysed, told apart from the stream's state.

    ``ok``: every frame due is analysed and stored in time. ``degraded``: frames are analysed
    but something beside the loop fails (the database, Redis, the lease heartbeat), so counts
    wait in the runner's buffer or live views pause. ``stalled``: frames are not analysed
    (source offline or frozen, runner gone); the seconds are recorded as a gap.
    """

    OK = "ok", "OK"
    DEGRADED = "degraded", "Degraded"
    STALLED = "stalled", "Stalled"


class GapCause(models.TextChoices):
    """Why a camera's frames were not analysed for a while (a :class:`CameraGap`)."""

    SOURCE = "source", "Source offline or frozen"
    RUNNER = "runner", "No runner (crashed, killed or taken over)"
    LOOP = "loop", "Frame loop blocked"
    OVERLOAD = "overload", "Analysed below the camera's rate (machine overloaded)"
    DETECTOR = "detector", "Inference service unavailable"
