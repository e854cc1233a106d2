"""Constants of sites and cameras."""

from django.db import models

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALLOWED_STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https"})
DETECT_FPS_MIN = 0.5
DETECT_FPS_MAX = 30.0
DEFAULT_DETECT_FPS = 5.0
DETECT_FPS_HELP = (
    "Frames analysed per second. Counts are most accurate at 4 or more (measured on PETS09: "
    "97-99 % at 4-7, 92 % at 3); at lower rates people who cross between two analysed frames "
    "can be missed."
)


class CameraStatus(models.TextChoices):
    """The stream state of a camera, as seen by its runner."""

    STARTING = "starting", "Starting"
    # Enabled, but every stream slot of the live nodes is busy (counting.tasks supervisor).
    WAITING = "waiting", "Waiting for a stream slot"
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    FROZEN = "frozen", "Frozen"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"
