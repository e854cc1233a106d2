"""Alert rules, the alerts (incidents) they open, and the notifications that report them.

::

    AlertRule --(condition holds for its duration)--> AlertCondition.since ... Alert (open)
        |                                                              |
        | recipients: users, e-mails, phones, WebhookEndpoint          | opened / resolved
        v                                                              v
    Notification (one per alert, event, channel, recipient: a unique key) --claimed by-->
    Delivery (one message to one recipient: one notification or a digest of several)
        --> DeliveryAttempt (every try, with its status)

At most one open alert per (rule, scope) is a partial unique index, and a notification's key
is unique, so two evaluators or a restarted one can neither open an alert twice nor notify twice.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from analytics.alerts.constants import (
    AlertEvent,
    AlertState,
    Channel,
    DeliveryStatus,
    NotificationStatus,
    RuleKind,
    Schedule,
    Scope,
    Severity,
)
from cameras.crypto import decrypt_secret, encrypt_secret
from cameras.models import Camera, Site
from counting.models import CountingLine, Zone


def _all_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4, 5, 6]


def _empty_list() -> list[Any]:
    return []


class WebhookEndpoint(models.Model):
    """An HTTPS (or HTTP) endpoint that receives alerts as JSON signed with HMAC-SHA256.

    The URL passed the camera address policy when saved and is checked again before every
    call (DNS may change). The signing secret is stored encrypted and shown once, at creation.
    """

    name = models.CharField(max_length=100)
    url = models.CharField(max_length=2000)
    secret_encrypted = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["name"], name="alerts_webhook_unique_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def secret(self) -> str:
        return decrypt_secret(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = encrypt_secret(value)

    def audit_values(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "enabled": self.enabled}


class AlertRule(models.Model):
    """What to watch, when, and whom to tell.

    The scope is one of ``site``, ``camera``, ``line`` or ``zone`` with exactly the matching
    foreign key set; ``site`` is always filled (the scope's site) and ``camera`` for camera,
    line and zone scopes, so rules are found by camera or site with one index each.
    ``threshold`` is the occupancy or footfall value (occupancy above defaults to the zone's
    capacity), the minimum completeness in percent for data rules; ``duration_s`` is how long
    the condition must hold; ``period_start``/``period_end`` are site-local times of day of
    footfall and completeness rules; ``weekdays`` 0 = Monday.
    """

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=RuleKind.choices)
    scope = models.CharField(max_length=8, choices=Scope.choices)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="alert_rules")
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, null=True, blank=True,
                               related_name="alert_rules")
    line = models.ForeignKey(CountingLine, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="alert_rules")
    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="alert_rules")
    threshold = models.FloatField(null=True, blank=True)
    duration_s = models.PositiveIntegerField(default=0)
    period_start = models.TimeField(null=True, blank=True)
    period_end = models.TimeField(null=True, blank=True)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    schedule = models.CharField(max_length=16, choices=Schedule.choices, default=Schedule.ALWAYS)
    weekdays = models.JSONField(default=_all_weekdays)
    cooldown_s = models.PositiveIntegerField(default=600)
    enabled = models.BooleanField(default=True)
    recipient_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True,
                                             related_name="alert_rules")
    emails = models.JSONField(default=_empty_list, blank=True)
    phones = models.JSONField(default=_empty_list, blank=True)
    webhooks = models.ManyToManyField(WebhookEndpoint, blank=True, related_name="rules")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["camera", "enabled"], name="alerts_rule_camera"),
            models.Index(fields=["site", "scope", "enabled"], name="alerts_rule_site"),
        ]
        constraints = [
            models.CheckConstraint(name="alerts_rule_scope_fk", condition=(
                Q(scope="site", camera__isnull=True, line__isnull=True, zone__isnull=True)
                | Q(scope="camera", camera__isnull=False, line__isnull=True, zone__isnull=True)
                | Q(scope="line", camera__isnull=False, line__isnull=False, zone__isnull=True)
                | Q(scope="zone", camera__isnull=False, line__isnull=True, zone__isnull=False))),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_object(self) -> Site | Camera | CountingLine | Zone:
        return {"site": self.site, "camera": self.camera, "line": self.line,
                "zone": self.zone}[self.scope]  # type: ignore[return-value]

    def audit_values(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "scope": self.scope, "site": self.site_id,
            "camera": self.camera_id, "line": self.line_id, "zone": self.zone_id,
            "threshold": self.threshold, "duration_s": self.duration_s,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "severity": self.severity, "schedule": self.schedule, "weekdays": self.weekdays,
            "cooldown_s": self.cooldown_s, "enabled": self.enabled, "emails": self.emails,
            "phones": self.phones,
            "users": sorted(self.recipient_users.values_list("pk", flat=True)) if self.pk else [],
            "webhooks": sorted(self.webhooks.values_list("pk", flat=True)) if self.pk else [],
        }


class AlertCondition(models.Model):
    """Since when a rule's condition holds for one scope (``since`` is None when it does not).

    Written only when the condition starts or stops holding, so a steady state costs no
    writes; kept in the database so a restarted or second evaluator continues the same count.
    ``scope_key`` is ``zone:7``, ``camera:3``... (a site rule on camera health has one per
    camera).
    """

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="conditions")
    scope_key = models.CharField(max_length=40)
    since = models.DateTimeField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    # The time of the observation that last changed ``since`` (older ones are ignored).
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "scope_key"],
                                               name="alerts_condition_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.scope_key} since={self.since}"


class Alert(models.Model):
    """One incident: opened when a rule's condition held for its duration, updated while it
    lasts, acknowledged by a person, resolved when the condition clears. Kept as history.

    ``rule_name``, ``kind`` and ``severity`` are copied so history survives a rule's deletion.
    """

    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="alerts")
    rule_name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24, choices=RuleKind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    scope_key = models.CharField(max_length=40)
    scope_label = models.CharField(max_length=300)
    site = models.ForeignKey(Site, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="alerts")
    camera = models.ForeignKey(Camera, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="alerts")
    state = models.CharField(max_length=8, choices=AlertState.choices, default=AlertState.OPEN)
    message = models.CharField(max_length=500)
    threshold = models.FloatField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    peak_value = models.FloatField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    condition_since = models.DateTimeField()
    opened_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                        null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "scope_key"], condition=Q(state="open"),
                                    name="alerts_one_open_per_rule_scope"),
        ]
        indexes = [models.Index(fields=["state", "-opened_at"], name="alerts_alert_state")]

    def __str__(self) -> str:
        return f"{self.rule_name} ({self.scope_label}) {self.state}"


class Delivery(models.Model):
    """One message to one recipient on one channel: a single notification or a digest.

    Claimed (created, with its notifications attached) before anything is sent; retried with
    exponential backoff until sent or ``give_up_at``. Its ``pk`` is the ``X-Alert-Delivery``
    header of webhooks, so a receiver can drop a repeat after a worker died mid-call.
    """

    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=300)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.SET_NULL, null=True,
                                 blank=True, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.SENDING)
    digest = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alerts_delivery_due"),
                   models.Index(fields=["created_at"], name="alerts_delivery_created")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient}: {self.status}"


class Notification(models.Model):
    """That one recipient must hear of one alert's event (opened or resolved) on one channel.

    Written in the same transaction that opens or resolves the alert (an outbox), with a unique
    ``key`` (alert, event, channel, recipient): it exists once whatever evaluator wrote it, and
    leaves in exactly one delivery.
    """

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    event = models.CharField(max_length=8, choices=AlertEvent.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=300)
    key = models.CharField(max_length=400, unique=True)
    status = models.CharField(max_length=8, choices=NotificationStatus.choices,
                              default=NotificationStatus.PENDING)
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="notifications")
    created_at = models.DateTimeField()
    not_before = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "channel", "recipient"],
                                name="alerts_notification_queue")]

    def __str__(self) -> str:
        return self.key


class DeliveryAttempt(models.Model):
    """One try of a delivery, kept whatever its outcome (the delivery log)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    status_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"],
                                               name="alerts_attempt_unique")]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.number} {'ok' if self.ok else 'failed'}"
