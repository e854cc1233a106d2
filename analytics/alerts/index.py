"""The enabled rules of a tenant, indexed by camera and site, cached per process.

Every committed batch asks "which rules watch this camera?": the answer comes from memory
(a dict lookup), and the cache is rebuilt only when a rule (or a zone's capacity) changed,
which one cheap aggregate query per call finds out. Evaluating a batch then touches only the
rules of its camera and of its site, not every rule of the tenant.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from zoneinfo import ZoneInfo

from analytics.alerts.constants import RuleKind, Scope
from analytics.alerts.models import AlertRule
from counting.models import Zone
from tenants.db import connection

# Rebuild at least this often even when nothing seems changed (e.g. site opening hours).
MAX_AGE_S = 60.0


@dataclass(frozen=True, slots=True)
class RuleEntry:
    """What evaluation needs of a rule, without touching the ORM again."""

    id: int
    name: str
    kind: str
    scope: str
    site_id: int
    camera_id: int | None
    line_id: int | None
    zone_id: int | None
    threshold: float | None
    duration_s: int
    period_start: dtime | None
    period_end: dtime | None
    severity: str
    schedule: str
    weekdays: frozenset[int]
    cooldown_s: int
    site_tz: str
    opening_hours: dict[str, list[list[str]]]
    scope_label: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site_tz)


@dataclass(slots=True)
class RuleIndex:
    """Enabled rules by camera (camera, line and zone scopes) and by site (site scope)."""

    version: tuple[int, datetime | None, datetime | None]
    built_at: float
    by_camera: dict[int, list[RuleEntry]] = field(default_factory=dict)
    by_site: dict[int, list[RuleEntry]] = field(default_factory=dict)
    all: list[RuleEntry] = field(default_factory=list)

    def for_camera(self, camera_id: int, site_id: int | None) -> list[RuleEntry]:
        rules = list(self.by_camera.get(camera_id, ()))
        if site_id is not None:
            rules.extend(self.by_site.get(site_id, ()))
        return rules


_cache: dict[str, RuleIndex] = {}
_lock = threading.Lock()


def _version() -> tuple[int, datetime | None, datetime | None]:
    """(rules, last rule change, last change of a zone a rule watches): one round trip."""
    rules, zones = AlertRule._meta.db_table, Zone._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), max(updated_at), (SELECT max(z.updated_at) FROM {zones} z "
            f"WHERE z.id IN (SELECT zone_id FROM {rules} WHERE zone_id IS NOT NULL)) "
            f"FROM {rules}")
        n, at, zone_at = cursor.fetchone()
    return int(n), at, zone_at


def _label(rule: AlertRule) -> str:
    site = rule.site.name
    if rule.scope == Scope.SITE:
        return site
    camera = rule.camera.name if rule.camera else "?"
    if rule.scope == Scope.CAMERA:
        return f"{site} / {camera}"
    obj = rule.line if rule.scope == Scope.LINE else rule.zone
    return f"{site} / {camera} / {obj.name if obj else '?'}"


def _build(version: tuple[int, datetime | None, datetime | None]) -> RuleIndex:
    index = RuleIndex(version=version, built_at=time.monotonic())
    rules = (AlertRule.objects.filter(enabled=True)
             .select_related("site", "camera", "line", "zone").order_by("id"))
    for rule in rules:
        threshold = rule.threshold
        if threshold is None and rule.kind == RuleKind.OCCUPANCY_ABOVE and rule.zone:
            threshold = rule.zone.capacity
        entry = RuleEntry(
            id=rule.pk, name=rule.name, kind=rule.kind, scope=rule.scope, site_id=rule.site_id,
            camera_id=rule.camera_id, line_id=rule.line_id, zone_id=rule.zone_id,
            threshold=None if threshold is None else float(threshold),
            duration_s=rule.duration_s, period_start=rule.period_start,
            period_end=rule.period_end, severity=rule.severity, schedule=rule.schedule,
            weekdays=frozenset(int(d) for d in rule.weekdays), cooldown_s=rule.cooldown_s,
            site_tz=rule.site.timezone, opening_hours=rule.site.opening_hours or {},
            scope_label=_label(rule))
        index.all.append(entry)
        if rule.scope == Scope.SITE:
            index.by_site.setdefault(rule.site_id, []).append(entry)
        else:
            assert rule.camera_id is not None
            index.by_camera.setdefault(rule.camera_id, []).append(entry)
    return index


def rule_index() -> RuleIndex:
    """The current tenant's index (rebuilt when rules changed or it is older than a minute)."""
    schema = connection.schema_name
    version = _version()
    with _lock:
        cached = _cache.get(schema)
    if (cached is not None and cached.version == version
            and time.monotonic() - cached.built_at < MAX_AGE_S):
        return cached
    index = _build(version)
    with _lock:
        _cache[schema] = index
    return index


def rule_index_clear() -> None:
    """Forget every cached index (tests, benchmarks)."""
    with _lock:
        _cache.clear()
