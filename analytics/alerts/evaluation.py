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
from analytics.alerts.live import alert_publish, alerts_publish
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


Key = tuple[int, str]


def _values(keys: Sequence[Key]) -> tuple[str, list[object]]:
    """``(VALUES (%s, %s), ...)`` of (rule id, scope key) pairs and its parameters."""
    params: list[object] = []
    for rule_id, scope_key in keys:
        params += [rule_id, scope_key]
    return "(VALUES " + ", ".join(["(%s::bigint, %s)"] * len(keys)) + ")", params


def _since_start(starts: dict[Key, float | None], now: datetime) -> dict[Key, datetime]:
    """Start the trackers that are not running (one statement); returns every start, older
    ones kept (another evaluator may have started a tracker first)."""
    if not starts:
        return {}
    table = AlertCondition._meta.db_table
    params: list[object] = []
    for (rule_id, scope_key), value in starts.items():
        params += [rule_id, scope_key, now, value, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (rule_id, scope_key, since, value, changed_at) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s)"] * len(starts))
            + f" ON CONFLICT (rule_id, scope_key) DO UPDATE SET since = EXCLUDED.since, "
            f"value = EXCLUDED.value, changed_at = EXCLUDED.changed_at "
            f"WHERE {table}.since IS NULL", params)
        values_sql, key_params = _values(list(starts))
        cursor.execute(
            f"SELECT c.rule_id, c.scope_key, c.since FROM {table} c "
            f"JOIN {values_sql} AS k(rule_id, scope_key) "
            "ON c.rule_id = k.rule_id AND c.scope_key = k.scope_key", key_params)
        return {(r, k): since or now for r, k, since in cursor.fetchall()}


def _since_clear(keys: list[Key], now: datetime) -> None:
    """Stop the trackers (one statement), unless a newer observation changed them."""
    if not keys:
        return
    table = AlertCondition._meta.db_table
    values_sql, params = _values(keys)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} c SET since = NULL, changed_at = %s FROM {values_sql} "
            "AS k(rule_id, scope_key) WHERE c.rule_id = k.rule_id AND "
            "c.scope_key = k.scope_key AND c.since IS NOT NULL AND c.changed_at <= %s",
            [now, *params, now])


def _open_many(candidates: list[Observation], now: datetime) -> list[Alert]:
    """Open the alerts of ``candidates`` in one transaction: lock their trackers, skip those
    with an open alert, a cool-down running or a rule disabled meanwhile, insert the alerts
    and their notifications together; dispatch one delivery task per recipient on commit (so
    a recipient of several gets one digest)."""
    from analytics.alerts.models import Notification
    from analytics.alerts.outbox import dispatch, notification_rows

    schema = connection.schema_name
    keys = [(o.rule.id, o.scope_key) for o in candidates]
    values_sql, params = _values(keys)
    table, alerts_table = AlertCondition._meta.db_table, Alert._meta.db_table
    cooldown = max(o.rule.cooldown_s for o in candidates)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT c.rule_id, c.scope_key, c.since FROM {table} c JOIN {values_sql} "
                "AS k(rule_id, scope_key) ON c.rule_id = k.rule_id AND c.scope_key = "
                "k.scope_key WHERE c.since IS NOT NULL ORDER BY c.id FOR UPDATE OF c", params)
            since = {(r, k): s for r, k, s in cursor.fetchall()}
            cursor.execute(
                f"SELECT a.rule_id, a.scope_key, a.state, a.resolved_at FROM {alerts_table} a "
                f"JOIN {values_sql} AS k(rule_id, scope_key) ON a.rule_id = k.rule_id AND "
                "a.scope_key = k.scope_key WHERE a.state = 'open' OR a.resolved_at > %s",
                [*params, now - timedelta(seconds=cooldown)])
            blocked: set[Key] = set()
            by_key = {(o.rule.id, o.scope_key): o for o in candidates}
            for r, k, state, resolved_at in cursor.fetchall():
                obs = by_key[(r, k)]
                if state == AlertState.OPEN or (
                        resolved_at is not None and obs.rule.cooldown_s
                        and resolved_at > now - timedelta(seconds=obs.rule.cooldown_s)):
                    blocked.add((r, k))
        rules = {r.pk: r for r in AlertRule.objects.filter(
            pk__in=sorted({k[0] for k in keys}), enabled=True)
            .prefetch_related("recipient_users", "webhooks")}
        chosen = [o for o in candidates if (o.rule.id, o.scope_key) in since
                  and (o.rule.id, o.scope_key) not in blocked and o.rule.id in rules]
        if not chosen:
            return []
        alerts = Alert.objects.bulk_create([Alert(
            rule=rules[o.rule.id], rule_name=rules[o.rule.id].name, kind=o.rule.kind,
            severity=rules[o.rule.id].severity, scope_key=o.scope_key,
            scope_label=o.label[:300], site_id=o.rule.site_id, camera_id=o.camera_id,
            state=AlertState.OPEN, threshold=o.rule.threshold, value=o.value,
            peak_value=o.value, details=o.details, condition_since=since[(o.rule.id,
                                                                          o.scope_key)],
            opened_at=now, updated_at=now,
            message=alert_message(kind=o.rule.kind, label=o.label, value=o.value,
                                  threshold=o.rule.threshold, duration_s=o.rule.duration_s,
                                  details=o.details)[:500]) for o in chosen])
        rows = [row for alert in alerts for row in notification_rows(
            alert=alert, rule=rules[alert.rule_id or 0], event=AlertEvent.OPENED, now=now)]
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        pairs = sorted({(row.channel, row.recipient) for row in rows})
        if pairs:
            transaction.on_commit(lambda: dispatch(schema, pairs))
        transaction.on_commit(lambda: alerts_publish(schema=schema, alerts=alerts,
                                                     event=AlertEvent.OPENED))
    for alert in alerts:
        logger.info("alert %s opened: %s", alert.pk, alert.message)
    return alerts


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
    current = [o for o in observations
               if not (trackers.get((o.rule.id, o.scope_key), (None, None))[1] or now) > now]
    # (an observation older than its tracker's last change arrived out of order: skipped)
    starts = {(o.rule.id, o.scope_key): o.value for o in current
              if o.holds and trackers.get((o.rule.id, o.scope_key), (None, None))[0] is None}
    since = {key: value[0] for key, value in trackers.items() if value[0] is not None}
    since.update(_since_start(starts, now))
    _since_clear([(o.rule.id, o.scope_key) for o in current
                  if not o.holds and since.get((o.rule.id, o.scope_key)) is not None], now)
    to_open: list[Observation] = []
    for obs in current:
        key = (obs.rule.id, obs.scope_key)
        alert = open_alerts.get(key)
        if obs.holds:
            started = since.get(key, now)
            if alert is None:
                if now - started >= timedelta(seconds=obs.rule.duration_s):
                    to_open.append(obs)
            elif obs.value is not None and obs.value != alert[1]:
                peak = alert[2]
                new_peak = peak is None or (obs.value > peak if "below" not in obs.rule.kind
                                            else obs.value < peak)
                if new_peak or (now - alert[3]).total_seconds() >= VALUE_UPDATE_S:
                    Alert.objects.filter(pk=alert[0], state=AlertState.OPEN).update(
                        value=obs.value, updated_at=now,
                        **({"peak_value": obs.value} if new_peak else {}))
                    result.updated += 1
        elif alert is not None and _resolve(alert[0], obs, now):
            result.resolved += 1
    if to_open:
        try:
            result.opened += len(_open_many(to_open, now))
        except IntegrityError:
            # an evaluator that did not lock (none does) or a race on the unique index:
            # one by one, each in its own transaction
            for obs in to_open:
                if _open(obs, since.get((obs.rule.id, obs.scope_key), now), now):
                    result.opened += 1
    return result
