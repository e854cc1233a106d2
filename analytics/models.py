"""Per-minute rollups written in the same transaction as the ledger events they summarise."""

from __future__ import annotations

from django.db import models

from cameras.models import Camera
from counting.models import CountingLine, Zone


class LineRollup(models.Model):
    """In and out counts of one line over one UTC period (a minute or an hour)."""

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="+")
    count_in = models.PositiveIntegerField(default=0)
    count_out = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class LineMinuteRollup(LineRollup):
    """In and out counts of one line in one UTC minute (``minute`` is the minute's start)."""

    line = models.ForeignKey(CountingLine, on_delete=models.PROTECT, related_name="minute_rollups")
    minute = models.DateTimeField()

    class Meta:
        ordering = ["minute", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "minute"], name="line_minute_unique"),
        ]
        indexes = [models.Index(fields=["camera", "minute"])]

    def __str__(self) -> str:
        return f"{self.line_id} {self.minute:%Y-%m-%d %H:%M} +{self.count_in}/-{self.count_out}"


class LineHourRollup(LineRollup):
    """In and out counts of one line in one UTC hour: the sum of its minute rollups.

    Kept in the same ledger transaction as the minutes, so hourly and daily series of sites
    whose timezone is a whole number of hours from UTC read 60 times fewer rows.
    """

    line = models.ForeignKey(CountingLine, on_delete=models.PROTECT, related_name="hour_rollups")
    hour = models.DateTimeField()

    class Meta:
        ordering = ["hour", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "hour"], name="line_hour_unique"),
        ]
        indexes = [models.Index(fields=["camera", "hour"])]

    def __str__(self) -> str:
        return f"{self.line_id} {self.hour:%Y-%m-%d %H:00} +{self.count_in}/-{self.count_out}"


class ZoneMinuteOccupancy(models.Model):
    """Occupancy of one zone in one UTC minute: the average is ``occupancy_sum / samples``."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="minute_occupancy")
    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="+")
    minute = models.DateTimeField()
    samples = models.PositiveIntegerField(default=0)
    occupancy_sum = models.FloatField(default=0.0)
    max_occupancy = models.PositiveIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    exits = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["minute", "zone_id"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "minute"], name="zone_minute_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.zone_id} {self.minute:%Y-%m-%d %H:%M} max={self.max_occupancy}"

    @property
    def avg_occupancy(self) -> float:
        return self.occupancy_sum / self.samples if self.samples else 0.0
