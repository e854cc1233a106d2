"""Models of the analytics app: the alerting models live in ``analytics/alerts/models.py``,
reports and exports in ``analytics/reports/models.py``; the record of site occupancy resets is
here."""

from django.db import models

from analytics.alerts.models import (  # noqa: F401 - Django finds the app's models here
    Alert,
    AlertCondition,
    AlertRule,
    Delivery,
    DeliveryAttempt,
    Notification,
    WebhookEndpoint,
)
from analytics.reports.models import (  # noqa: F401 - Django finds the app's models here
    Export,
    ReportSchedule,
    ReportSend,
)
from cameras.models import Site


class OccupancyResetKind(models.TextChoices):
    """Why a site's occupancy was set back to zero."""

    CLOSING = "closing", "At closing time"
    MANUAL = "manual", "By a user"


class OccupancyReset(models.Model):
    """A manual reset of a site's occupancy to zero, with what it removed.

    Site occupancy is entering minus leaving over the site's entrances, never below zero, and
    goes back to zero at every closing time (those resets are computed from the opening hours
    on every read, see :mod:`analytics.site_occupancy`) and when a user with the
    ``reset_occupancyreset`` permission resets it (stored here, audited as
    ``site_occupancy.reset``). ``removed`` is the occupancy the reset took away: people counted
    in whose exit was never counted, i.e. the drift.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="occupancy_resets")
    at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=OccupancyResetKind.choices,
                            default=OccupancyResetKind.MANUAL)
    removed = models.PositiveIntegerField(default=0)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["site", "at"])]
        permissions = [("reset_occupancyreset", "Can reset a site's occupancy to zero")]

    def __str__(self) -> str:
        return f"{self.site_id} reset {self.at:%Y-%m-%d %H:%M} -{self.removed}"
