"""When evaluation runs, and on which rules (the current tenant's):

- ``on_batch``   a committed ledger batch of a camera: its occupancy and footfall rules, and
                 those of its site (the rule index gives only these, not the tenant's all);
- ``on_health``  the health sweep: camera health rules;
- ``on_sweep``   the alerts sweep (beat): footfall and completeness rules, whose result depends
                 on the clock (a period ending), and rules deleted under an open alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from analytics.alerts.conditions import (
    completeness_observations,
    footfall_observations,
    health_observations,
    occupancy_observations,
)
from analytics.alerts.constants import (
    EVENT_KINDS,
    FOOTFALL_KINDS,
    HEALTH_KINDS,
    AlertState,
    RuleKind,
    Scope,
)
from analytics.alerts.evaluation import EvaluationResult, alert_resolve, evaluate
from analytics.alerts.index import rule_index
from analytics.alerts.models import Alert, AlertRule
from cameras.models import Camera


def on_batch(*, camera_id: int, occupancy: Mapping[int, float], now: datetime,
             site_id: int | None = None) -> EvaluationResult:
    """Evaluate the event-driven rules of ``camera_id`` after one of its batches committed."""
    index = rule_index()
    if site_id is None and index.by_site:
        site_id = Camera.objects.filter(pk=camera_id).values_list("site_id", flat=True).first()
    rules = [r for r in index.for_camera(camera_id, site_id) if r.kind in EVENT_KINDS]
    if not rules:
        return EvaluationResult()
    observations = occupancy_observations(rules, camera_id=camera_id, occupancy=occupancy,
                                          now=now)
    observations += footfall_observations([r for r in rules if r.kind == RuleKind.FOOTFALL_ABOVE],
                                          now=now)
    return evaluate(observations, now=now)


def on_health(*, now: datetime) -> EvaluationResult:
    """Evaluate the camera health rules of the tenant."""
    rules = [r for r in rule_index().all if r.kind in HEALTH_KINDS]
    return evaluate(health_observations(rules, now=now), now=now)


def on_sweep(*, now: datetime) -> EvaluationResult:
    """Evaluate clock-driven rules; resolve open alerts whose rule is gone or disabled."""
    rules = rule_index().all
    observations = footfall_observations([r for r in rules if r.kind in FOOTFALL_KINDS],
                                         now=now)
    observations += completeness_observations(
        [r for r in rules if r.kind == RuleKind.DATA_INCOMPLETE], now=now)
    result = evaluate(observations, now=now)
    live = {r.id for r in rules}
    for alert in Alert.objects.filter(state=AlertState.OPEN).exclude(rule_id__in=live):
        reason = "its rule was deleted" if alert.rule_id is None else "its rule was disabled"
        if alert_resolve(alert=alert, reason=reason, now=now, notify=alert.rule_id is not None):
            result.resolved += 1
    return result


def cameras_with_event_rules() -> set[int]:
    """Cameras whose batches have rules to evaluate (their own or their site's).

    Asked by the stream runner's process every few seconds: two small indexed queries, not the
    rule index (building that is the evaluating worker's job)."""
    kinds = sorted(EVENT_KINDS)
    rules = AlertRule.objects.filter(enabled=True, kind__in=kinds)
    cameras = set(rules.filter(camera__isnull=False).values_list("camera_id", flat=True))
    sites = rules.filter(scope=Scope.SITE).values("site_id")
    cameras |= set(Camera.objects.filter(site_id__in=sites).values_list("pk", flat=True))
    return {c for c in cameras if c is not None}
