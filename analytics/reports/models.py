"""Scheduled reports and the sends that claim each of their periods; large exports.

::

    ReportSchedule (daily / weekly / monthly at a local time, a scope, a format, recipients)
        -- due check --> ReportSend (one row per schedule and period: UNIQUE, claimed in the
                         database before anything is sent) -- e-mail with the file attached

    Export (an export made by a task: status, progress, the file, its expiry)

The unique (schedule, period_start) row is what makes a period's report leave once, even when
two schedulers (or a restarted one) run the due check at the send time.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from cameras.models import Camera, Site
from counting.models import CountingLine, Zone


def _empty_list() -> list[Any]:
    return []


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    PDF = "pdf", "PDF"


class ReportBucket(models.TextChoices):
    HOUR = "hour", "Hour"
    DAY = "day", "Day"


class ReportSchedule(models.Model):
    """A report e-mailed every day, week (on ``weekday``) or month (on the 1st) at ``send_time``
    in the site's time, covering the previous local period (a day of 23, 24 or 25 hours, the
    previous Monday-Sunday week, the previous month).

    The scope is one site, camera, line (counts) or zone (occupancy); the numbers are read with
    the permissions of ``created_by`` (a schedule whose creator may no longer see its scope
    sends nothing and says why).
    """

    name = models.CharField(max_length=200)
    frequency = models.CharField(max_length=10, choices=Frequency.choices,
                                 default=Frequency.DAILY)
    send_time = models.TimeField(help_text="Local time of the site.")
    weekday = models.PositiveSmallIntegerField(
        default=0, help_text="Weekly reports: 0 = Monday ... 6 = Sunday.")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="report_schedules")
    camera = models.ForeignKey(Camera, null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")
    line = models.ForeignKey(CountingLine, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    zone = models.ForeignKey(Zone, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    bucket = models.CharField(max_length=10, choices=ReportBucket.choices,
                              default=ReportBucket.HOUR)
    format = models.CharField(max_length=10, choices=ExportFormat.choices,
                              default=ExportFormat.PDF)
    recipients = models.JSONField(default=_empty_list)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["enabled"], name="reports_schedule_enabled")]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        return ("zone" if self.zone_id else "line" if self.line_id else
                "camera" if self.camera_id else "site")

    def scope_params(self) -> dict[str, str]:
        """The API query naming this schedule's scope."""
        scope = self.scope
        return {scope: str(getattr(self, f"{scope}_id"))}

    def audit_values(self) -> dict[str, Any]:
        return {"name": self.name, "frequency": self.frequency,
                "send_time": self.send_time.isoformat() if self.send_time else None,
                "weekday": self.weekday, "scope": self.scope, "site": self.site_id,
                "camera": self.camera_id, "line": self.line_id, "zone": self.zone_id,
                "bucket": self.bucket, "format": self.format,
                "recipients": list(self.recipients), "enabled": self.enabled}


class SendStatus(models.TextChoices):
    CLAIMED = "claimed", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Nothing to send"


class ReportSend(models.Model):
    """One period of one schedule: inserted (the claim) before the e-mail leaves; the unique
    (schedule, period_start) pair lets exactly one due check win the period."""

    schedule = models.ForeignKey(ReportSchedule, on_delete=models.CASCADE, related_name="sends")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=SendStatus.choices,
                              default=SendStatus.CLAIMED)
    attempts = models.PositiveSmallIntegerField(default=1)
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=_empty_list)
    delivered = models.JSONField(default=_empty_list)
    rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [models.UniqueConstraint(fields=["schedule", "period_start"],
                                               name="reports_send_once_per_period")]

    def __str__(self) -> str:
        return f"{self.schedule_id} {self.period_start:%Y-%m-%d}"


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class Export(models.Model):
    """An export made by a task (a range too long to wait for): its query, progress and file.

    The file lives under ``REPORTS_EXPORT_DIR/<schema>/`` and is served only through a signed,
    expiring link that names this tenant's schema (see analytics/reports/exports.py).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, default="counts")
    params = models.JSONField(default=dict)
    format = models.CharField(max_length=10, choices=ExportFormat.choices,
                              default=ExportFormat.CSV)
    status = models.CharField(max_length=10, choices=ExportStatus.choices,
                              default=ExportStatus.PENDING)
    rows_done = models.PositiveIntegerField(default=0)
    rows_expected = models.PositiveIntegerField(default=0)
    filename = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.format} {self.pk}"

    @property
    def progress(self) -> int:
        """Per cent done (100 when ready)."""
        if self.status == ExportStatus.DONE:
            return 100
        if not self.rows_expected:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_expected))
