"""Tenants, their domains and plans: the only models in the public schema."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

# The fair shares a plan sets and a tenant may override.
QUOTA_FIELDS = ("fps_quota", "lines_per_camera_quota", "zones_per_camera_quota",
                "websocket_quota", "query_rows_quota")
_PLANS = "Empty: the plan's value."
# How long each kind of stored row is kept (days), per plan, overridable per tenant; the
# retention job (counting/retention.py) enforces them. Hour rollups are kept for good.
RETENTION_FIELDS = ("retention_days", "minute_retention_days", "health_retention_days",
                    "audit_retention_days")
# The database refuses to remove audit events younger than this (audit/sql/setup.sql).
AUDIT_RETENTION_MIN_DAYS = 30
_EVENTS_HELP = ("Raw crossing events (the ledger). Their hour rollups stay, so counts by hour "
                "and day never change when events go.")
_MINUTES_HELP = ("Per-minute line counts: minute series, and the parts of hours that half-hour "
                 "time zones cut, read them. Their hour rollups stay.")
_HEALTH_HELP = "Camera health history (state changes, gaps' events)."
_AUDIT_HELP = ("Audit events. The oldest go as a prefix of the hash chain, whose last removed "
               f"hash is kept so the rest stays verifiable; at least {AUDIT_RETENTION_MIN_DAYS}.")


class Plan(models.Model):
    """A commercial plan: how many cameras a tenant may connect, how long counts are kept, and
    its fair share of the platform (analysed frames, lines and zones per camera, live
    connections, query size)."""

    code = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    camera_quota = models.PositiveIntegerField(default=10)
    retention_days = models.PositiveIntegerField("crossing events kept (days)", default=400,
                                                 help_text=_EVENTS_HELP,
                                                 validators=[MinValueValidator(1)])
    minute_retention_days = models.PositiveIntegerField("minute counts kept (days)",
                                                        default=90, help_text=_MINUTES_HELP,
                                                        validators=[MinValueValidator(1)])
    health_retention_days = models.PositiveIntegerField("health events kept (days)",
                                                        default=90, help_text=_HEALTH_HELP,
                                                        validators=[MinValueValidator(1)])
    audit_retention_days = models.PositiveIntegerField(
        "audit events kept (days)", default=730, help_text=_AUDIT_HELP,
        validators=[MinValueValidator(AUDIT_RETENTION_MIN_DAYS)])
    # Fair shares of the platform. A tenant's field of the same name overrides its plan's.
    fps_quota = models.PositiveIntegerField(
        "analysed frames per second", default=100,
        help_text="Sum of detect_fps over the tenant's enabled cameras.")
    lines_per_camera_quota = models.PositiveIntegerField("counting lines per camera", default=20)
    zones_per_camera_quota = models.PositiveIntegerField("zones per camera", default=10)
    websocket_quota = models.PositiveIntegerField(
        "live connections", default=100,
        help_text="Live-count WebSockets the tenant may have open at one time.")
    query_rows_quota = models.PositiveIntegerField(
        "rows per count query", default=2_000_000,
        help_text="Stored rows one counts or occupancy query may read; larger queries are "
                  "refused with advice to shorten them.")

    def __str__(self) -> str:
        return self.name


class Tenant(TenantMixin):
    """A customer organisation with its own PostgreSQL schema (``schema_name`` equals ``slug``)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=48, unique=True)
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="tenants")
    camera_quota = models.PositiveIntegerField(default=10)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Overrides of the plan's fair shares: empty (NULL) means "the plan's".
    fps_quota = models.PositiveIntegerField("analysed frames per second", null=True, blank=True,
                                            help_text=_PLANS)
    lines_per_camera_quota = models.PositiveIntegerField("counting lines per camera", null=True,
                                                         blank=True, help_text=_PLANS)
    zones_per_camera_quota = models.PositiveIntegerField("zones per camera", null=True,
                                                         blank=True, help_text=_PLANS)
    websocket_quota = models.PositiveIntegerField("live connections", null=True, blank=True,
                                                  help_text=_PLANS)
    query_rows_quota = models.PositiveIntegerField("rows per count query", null=True,
                                                   blank=True, help_text=_PLANS)
    # Overrides of the plan's retention: empty (NULL) means "the plan's".
    retention_days = models.PositiveIntegerField("crossing events kept (days)", null=True,
                                                 blank=True, help_text=_PLANS,
                                                 validators=[MinValueValidator(1)])
    minute_retention_days = models.PositiveIntegerField("minute counts kept (days)", null=True,
                                                        blank=True, help_text=_PLANS,
                                                        validators=[MinValueValidator(1)])
    health_retention_days = models.PositiveIntegerField("health events kept (days)", null=True,
                                                        blank=True, help_text=_PLANS,
                                                        validators=[MinValueValidator(1)])
    audit_retention_days = models.PositiveIntegerField(
        "audit events kept (days)", null=True, blank=True, help_text=_PLANS,
        validators=[MinValueValidator(AUDIT_RETENTION_MIN_DAYS)])
    # Privacy: people are blurred in every snapshot the portal and the API show (and in the
    # last snapshot kept per camera). On for new tenants; counting never needs a stored image.
    privacy_blur = models.BooleanField(
        "blur people in snapshots", default=True,
        help_text="Blur every person in the camera pictures the portal and the API show.")

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def quota(self, name: str) -> int:
        """The tenant's effective quota ``name`` (one of QUOTA_FIELDS): its own value when set,
        else its plan's, else the plan default."""
        if name not in QUOTA_FIELDS:
            raise ValueError(f"unknown quota {name!r}")
        return self._own_or_plan(name)

    def retention(self, name: str) -> int:
        """The tenant's effective retention ``name`` in days (one of RETENTION_FIELDS): its own
        value when set, else its plan's, else the plan default."""
        if name not in RETENTION_FIELDS:
            raise ValueError(f"unknown retention {name!r}")
        return self._own_or_plan(name)

    def retention_summary(self) -> dict[str, int | None]:
        """What the portal and the API show: days each kind of row is kept (None: for good)."""
        return {"crossing_events_days": self.retention("retention_days"),
                "minute_counts_days": self.retention("minute_retention_days"),
                "health_events_days": self.retention("health_retention_days"),
                "audit_events_days": self.retention("audit_retention_days"),
                "hour_and_day_counts_days": None, "zone_occupancy_minutes_days": None}

    def _own_or_plan(self, name: str) -> int:
        own = getattr(self, name)
        if own is not None:
            return int(own)
        if self.plan_id is not None and self.plan is not None:
            return int(getattr(self.plan, name))
        field = Plan._meta.get_field(name)
        assert isinstance(field, models.Field)
        return int(field.get_default())


class Domain(DomainMixin):
    """A host name that routes requests to a tenant (``acme.example.com``)."""

    def __str__(self) -> str:
        return self.domain
