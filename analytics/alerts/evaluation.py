"""Evaluation: observations -> condition trackers -> alerts opened, updated and resolved.

For each observation (rule, scope):

    holds, no tracker since     -> tracker.since = now                (one UPSERT)
    holds, since + duration due -> open the alert with its notifications, in one transaction
                                   that first locks the tracker row (evaluators serialise)
    holds, alert open           -> update its value (when it changed, at most every few s)
    does not hold               -> tracker.since = NULL; resolve the open alert (+ notifications)

Idempotent by construction: the tracker and the alert are rows, re-checked under the lock; a
partial unique index allows one open alert per (rule, scope); notification keys are unique.
A process killed anywhere leaves either nothing (rolled back: the next evaluation redoes it) or
the alert with its notifications (committed: the sweep dispatches them if the dispatch was lost).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from analytics.alerts.conditions import Observation
from analytics.alerts.constants import AlertEvent, AlertState
from analytics.alerts.live import alert_publish
from analytics.alerts.messages import alert_message
from analytics.alerts.models import Alert, AlertCondition, AlertRule
from analytics.alerts.outbox import notifications_create
from tenants.db import connection

logger = logging.getLogger(__name__)

# An open alert's value is rewritten at most this often (unless it reaches a new peak).
VALUE_UPDATE_S = 5.0


@dataclass(slots=True)
class EvaluationResult:
    """What one evaluation changed."""

    observed: int = 0
    opened: int = 0
    resolved: int = 0
    updated: int = 0


Trackers = dict[tuple[int, str], tuple[datetime | None, datetime]]
OpenAlerts = dict[tuple[int, str], tuple[int, float | None, float | None, datetime]]


def _state(rule_ids: list[int]) -> tuple[Trackers, OpenAlerts]:
    """The rules' condition trackers and open alerts, in one round trip (``= ANY`` of one
    parameter: Django building an ``IN`` list of a thousand ids costs more than the query)."""
    conditions, alerts = AlertCondition._meta.db_table, Alert._meta.db_table
    with connection.cursor() as cursor:
        # The ids travel as one text parameter: quoting a thousand-element array on the
        # client costs more than the query.
        cursor.execute(
            f"WITH ids AS (SELECT string_to_array(%s, ',')::bigint[] AS a) "
            f"SELECT 'c', rule_id, scope_key, since, changed_at, NULL, NULL, NULL "
            f"FROM {conditions}, ids WHERE rule_id = ANY(ids.a) UNION ALL "
            f"SELECT 'a', rule_id, scope_key, NULL, updated_at, id, value, peak_value "
            f"FROM {alerts}, ids WHERE state = 'open' AND rule_id = ANY(ids.a)",
            [",".join(map(str, rule_ids))])
        rows = cursor.fetchall()
    trackers: Trackers = {}
    open_alerts: OpenAlerts = {}
    for kind, rule_id, key, since, at, pk, value, peak in rows:
        if kind == "c":
            trackers[(rule_id, key)] = (since, at)
        else:
            open_alerts[(rule_id, key)] = (pk, value, peak, at)
    return trackers, open_alerts


def _since_set(key: tuple[int, str], now: datetime, value: float | None) -> datetime:
    """Start the tracker if it is not running; returns its (maybe older) start."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AlertCondition._meta.db_table} (rule_id, scope_key, since, value, "
            "changed_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (rule_id, scope_key) DO UPDATE "
            "SET since = COALESCE(EXCLUDED.since, "
            f"{AlertCondition._meta.db_table}.since), value = EXCLUDED.value, "
            "changed_at = EXCLUDED.changed_at "
            f"WHERE {AlertCondition._meta.db_table}.since IS NULL RETURNING since",
            [key[0], key[1], now, value, now])
        row = cursor.fetchone()
    if row is not None:
        return row[0]  # type: ignore[no-any-return]
    since = (AlertCondition.objects.filter(rule_id=key[0], scope_key=key[1])
             .values_list("since", flat=True).first())
    return since or now


def _since_clear(key: tuple[int, str], now: datetime) -> None:
    AlertCondition.objects.filter(rule_id=key[0], scope_key=key[1], since__isnull=False,
                                  changed_at__lte=now).update(since=None, changed_at=now)


def _open(obs: Observation, since: datetime, now: datetime) -> Alert | None:
    """Open the alert of ``obs`` unless one is open or the cool-down runs; one transaction."""
    rule_id, key = obs.rule.id, obs.scope_key
    schema = connection.schema_name
    with transaction.atomic():
        tracker = (AlertCondition.objects.select_for_update()
                   .filter(rule_id=rule_id, scope_key=key).first())
        if tracker is None or tracker.since is None:
            return None  # another evaluator cleared it meanwhile
        if Alert.objects.filter(rule_id=rule_id, scope_key=key, state=AlertState.OPEN).exists():
            return None
        rule = AlertRule.objects.filter(pk=rule_id, enabled=True).first()
        if rule is None:
            return None
        if obs.rule.cooldown_s and Alert.objects.filter(
                rule_id=rule_id, scope_key=key,
                resolved_at__gt=now - timedelta(seconds=obs.rule.cooldown_s)).exists():
            return None
        message = alert_message(kind=obs.rule.kind, label=obs.label, value=obs.value,
                                threshold=obs.rule.threshold, duration_s=obs.rule.duration_s,
                                details=obs.details)
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    rule=rule, rule_name=rule.name, kind=rule.kind, severity=rule.severity,
                    scope_key=key, scope_label=obs.label[:300], site_id=obs.rule.site_id,
                    camera_id=obs.camera_id, state=AlertState.OPEN, message=message[:500],
                    threshold=obs.rule.threshold, value=obs.value, peak_value=obs.value,
                    details=obs.details, condition_since=tracker.since, opened_at=now,
                    updated_at=now)
        except IntegrityError:
            return None  # the unique open alert exists: someone else opened it
        notifications_create(alert=alert, rule=rule, event=AlertEvent.OPENED, now=now)
        transaction.on_commit(lambda: alert_publish(schema=schema, alert=alert,
                                                    event=AlertEvent.OPENED))
    logger.info("alert %s opened: %s", alert.pk, alert.message)
    return alert


def _resolve(alert_id: int, obs: Observation, now: datetime) -> Alert | None:
    schema = connection.schema_name
    with transaction.atomic():
        alert = (Alert.objects.select_for_update().filter(pk=alert_id, state=AlertState.OPEN)
                 .first())
        if alert is None:
            return None
        reason = obs.details.get("reason") if isinstance(obs.details, dict) else None
        alert.state = AlertState.RESOLVED
        alert.resolved_at = now
        alert.updated_at = now
        alert.resolution = (reason or "the condition cleared")[:300]
        if obs.value is not None:
            alert.details = {**alert.details, "resolved_value": obs.value}
        alert.save(update_fields=["state", "resolved_at", "updated_at", "resolution",
                                  "details"])
        rule = AlertRule.objects.filter(pk=alert.rule_id or 0).first()
        if rule is not None:
            notifications_create(alert=alert, rule=rule, event=AlertEvent.RESOLVED, now=now)
        transaction.on_commit(lambda: alert_publish(schema=schema, alert=alert,
                                                    event=AlertEvent.RESOLVED))
    logger.info("alert %s resolved", alert.pk)
    return alert


def alert_resolve(*, alert: Alert, reason: str, now: datetime, notify: bool = True) -> bool:
    """Resolve an open alert outside evaluation (its rule was disabled or deleted)."""
    schema = connection.schema_name
    with transaction.atomic():
        locked = Alert.objects.select_for_update().filter(pk=alert.pk,
                                                          state=AlertState.OPEN).first()
        if locked is None:
            return False
        locked.state = AlertState.RESOLVED
        locked.resolved_at = locked.updated_at = now
        locked.resolution = reason[:300]
        locked.save(update_fields=["state", "resolved_at", "updated_at", "resolution"])
        rule = AlertRule.objects.filter(pk=locked.rule_id or 0).first()
        if notify and rule is not None:
            notifications_create(alert=locked, rule=rule, event=AlertEvent.RESOLVED, now=now)
        transaction.on_commit(lambda: alert_publish(schema=schema, alert=locked,
                                                    event=AlertEvent.RESOLVED))
    return True


def evaluate(observations: Sequence[Observation], *, now: datetime) -> EvaluationResult:
    """Apply observations made at ``now`` (see the module docstring); safe to run twice or
    concurrently. ``now`` is the time of the observed data (a batch's commit), so a queue that
    delays an evaluation does not stretch a duration."""
    result = EvaluationResult(observed=len(observations))
    if not observations:
        return result
    rule_ids = sorted({o.rule.id for o in observations})
    trackers, open_alerts = _state(rule_ids)
    for obs in observations:
        key = (obs.rule.id, obs.scope_key)
        since, changed_at = trackers.get(key, (None, None))
        if changed_at is not None and now < changed_at:
            continue  # older than the tracker's last change: evaluations arrived out of order
        alert = open_alerts.get(key)
        if obs.holds:
            if since is None:
                since = _since_set(key, now, obs.value)
            if alert is None:
                if now - since >= timedelta(seconds=obs.rule.duration_s) and _open(obs, since,
                                                                                   now):
                    result.opened += 1
            elif obs.value is not None and obs.value != alert[1]:
                peak = alert[2]
                new_peak = peak is None or (obs.value > peak if "below" not in obs.rule.kind
                                            else obs.value < peak)
                if new_peak or (now - alert[3]).total_seconds() >= VALUE_UPDATE_S:
                    Alert.objects.filter(pk=alert[0], state=AlertState.OPEN).update(
                        value=obs.value, updated_at=now,
                        **({"peak_value": obs.value} if new_peak else {}))
                    result.updated += 1
        else:
            if since is not None:
                _since_clear(key, now)
            if alert is not None and _resolve(alert[0], obs, now):
                result.resolved += 1
    return result
