"""Choices and fixed values of alerting."""

from __future__ import annotations

from django.db import models


class RuleKind(models.TextChoices):
    OCCUPANCY_ABOVE = "occupancy_above", "Occupancy above"
    OCCUPANCY_BELOW = "occupancy_below", "Occupancy below"
    FOOTFALL_ABOVE = "footfall_above", "Footfall in a period above"
    FOOTFALL_BELOW = "footfall_below", "Footfall in a period below"
    CAMERA_OFFLINE = "camera_offline", "Camera offline"
    CAMERA_FROZEN = "camera_frozen", "Camera frozen"
    CAMERA_LOW_FPS = "camera_low_fps", "Camera analysed below its detect fps"
    DATA_INCOMPLETE = "data_incomplete", "Data of a period incomplete"


OCCUPANCY_KINDS = frozenset({RuleKind.OCCUPANCY_ABOVE, RuleKind.OCCUPANCY_BELOW})
FOOTFALL_KINDS = frozenset({RuleKind.FOOTFALL_ABOVE, RuleKind.FOOTFALL_BELOW})
HEALTH_KINDS = frozenset({RuleKind.CAMERA_OFFLINE, RuleKind.CAMERA_FROZEN,
                          RuleKind.CAMERA_LOW_FPS})
# Evaluated when the ledger commits a batch of the rule's camera(s).
EVENT_KINDS = OCCUPANCY_KINDS | FOOTFALL_KINDS
# Kinds that need a period (local start and end time of day).
PERIOD_KINDS = FOOTFALL_KINDS | {RuleKind.DATA_INCOMPLETE}


class Scope(models.TextChoices):
    SITE = "site", "Site"
    CAMERA = "camera", "Camera"
    LINE = "line", "Counting line"
    ZONE = "zone", "Zone"


# Which scopes each kind accepts.
KIND_SCOPES: dict[str, tuple[str, ...]] = {
    RuleKind.OCCUPANCY_ABOVE: (Scope.ZONE, Scope.CAMERA, Scope.SITE),
    RuleKind.OCCUPANCY_BELOW: (Scope.ZONE, Scope.CAMERA, Scope.SITE),
    RuleKind.FOOTFALL_ABOVE: (Scope.LINE, Scope.ZONE, Scope.CAMERA, Scope.SITE),
    RuleKind.FOOTFALL_BELOW: (Scope.LINE, Scope.ZONE, Scope.CAMERA, Scope.SITE),
    RuleKind.CAMERA_OFFLINE: (Scope.CAMERA, Scope.SITE),
    RuleKind.CAMERA_FROZEN: (Scope.CAMERA, Scope.SITE),
    RuleKind.CAMERA_LOW_FPS: (Scope.CAMERA, Scope.SITE),
    RuleKind.DATA_INCOMPLETE: (Scope.CAMERA, Scope.SITE),
}


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Schedule(models.TextChoices):
    ALWAYS = "always", "Always"
    OPENING_HOURS = "opening_hours", "During the site's opening hours"


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class AlertEvent(models.TextChoices):
    """What a notification tells: the alert opened or resolved."""

    OPENED = "opened", "Opened"
    RESOLVED = "resolved", "Resolved"


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    CLAIMED = "claimed", "In a delivery"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class DeliveryStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Waiting to retry"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_WEEKDAYS = list(range(7))
