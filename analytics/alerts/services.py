"""Writes with rules: alert rules, webhook endpoints, acknowledging alerts.

Each validates (a ``ValidationError`` per field, nothing written), writes in one transaction and
records one audit event.
"""

from __future__ import annotations

import re
import secrets
from datetime import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from analytics.alerts.constants import (
    KIND_SCOPES,
    PERIOD_KINDS,
    AlertState,
    RuleKind,
    Schedule,
    Scope,
    Severity,
)
from analytics.alerts.evaluation import alert_resolve
from analytics.alerts.models import Alert, AlertCondition, AlertRule, WebhookEndpoint
from analytics.alerts.senders.webhook import WebhookUrlRefused, webhook_url_check
from audit.services import audit_record
from cameras.models import Camera, Site
from counting.models import CountingLine, Zone

_UNSET: Any = object()
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_RECIPIENTS = 50
MAX_DURATION_S = 7 * 24 * 3600

RULE_FIELDS = ("name", "kind", "scope", "site", "camera", "line", "zone", "threshold",
               "duration_s", "period_start", "period_end", "severity", "schedule", "weekdays",
               "cooldown_s", "enabled", "emails", "phones", "users", "webhooks")


def _err(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _clean_scope(errors: dict[str, list[str]], values: dict[str, Any]) -> None:
    """Resolve the scope's objects; ``site`` and ``camera`` follow from the narrowest one."""
    scope = values.get("scope")
    if scope not in Scope.values:
        _err(errors, "scope", f"Choose one of {', '.join(Scope.values)}.")
        return
    kind = values.get("kind")
    if kind in KIND_SCOPES and scope not in KIND_SCOPES[kind]:
        _err(errors, "scope", f"A {kind} rule applies to {', '.join(KIND_SCOPES[kind])}, "
             f"not to a {scope}.")
        return
    obj = values.get(scope)
    if obj is None:
        _err(errors, scope, f"Choose the {scope} this rule watches.")
        return
    for other in ("site", "camera", "line", "zone"):
        if other != scope:
            values[other] = None
    if isinstance(obj, CountingLine | Zone):
        values["camera"] = obj.camera
        values["site"] = obj.camera.site
    elif isinstance(obj, Camera):
        values["site"] = obj.site
    if kind == RuleKind.OCCUPANCY_ABOVE and values.get("threshold") is None:
        zone = values.get("zone")
        if scope != Scope.ZONE or zone is None or zone.capacity is None:
            _err(errors, "threshold", "Enter the occupancy threshold (only a zone with a "
                 "capacity can use its capacity by default).")
    if isinstance(obj, Zone) and obj.ignore_detections:
        _err(errors, "zone", "This zone is a mask (it counts nothing): choose another zone.")


def _clean(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    name = (values.get("name") or "").strip()
    if not name:
        _err(errors, "name", "This field may not be blank.")
    elif len(name) > 200:
        _err(errors, "name", "At most 200 characters.")
    values["name"] = name
    kind = values.get("kind")
    if kind not in RuleKind.values:
        _err(errors, "kind", f"Choose one of {', '.join(RuleKind.values)}.")
    _clean_scope(errors, values)
    threshold = values.get("threshold")
    if threshold is not None:
        try:
            values["threshold"] = float(threshold)
            if values["threshold"] < 0:
                _err(errors, "threshold", "Must be 0 or more.")
        except (TypeError, ValueError):
            _err(errors, "threshold", "Must be a number.")
    elif kind in (RuleKind.OCCUPANCY_BELOW, RuleKind.FOOTFALL_ABOVE, RuleKind.FOOTFALL_BELOW):
        _err(errors, "threshold", "Enter the value this rule compares with.")
    if kind == RuleKind.DATA_INCOMPLETE and threshold is not None and not 0 < float(
            threshold) <= 100:
        _err(errors, "threshold", "The minimum completeness is a percentage (1-100).")
    for field, upper in (("duration_s", MAX_DURATION_S), ("cooldown_s", MAX_DURATION_S)):
        value = values.get(field, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= upper:
            _err(errors, field, f"Seconds, a whole number between 0 and {upper}.")
    start, end = values.get("period_start"), values.get("period_end")
    if kind in PERIOD_KINDS:
        if not isinstance(start, time) or not isinstance(end, time):
            _err(errors, "period_start", "Enter the period's local start and end times "
                 "(e.g. 10:00 and 11:00).")
        elif end <= start:
            _err(errors, "period_end", "The period must end after it starts, the same day.")
    else:
        values["period_start"] = values["period_end"] = None
    if values.get("severity") not in Severity.values:
        _err(errors, "severity", f"Choose one of {', '.join(Severity.values)}.")
    if values.get("schedule") not in Schedule.values:
        _err(errors, "schedule", f"Choose one of {', '.join(Schedule.values)}.")
    days = values.get("weekdays")
    if (not isinstance(days, list) or not days
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6
                       for d in days)):
        _err(errors, "weekdays", "A non-empty list of weekdays, 0 (Monday) to 6 (Sunday).")
    else:
        values["weekdays"] = sorted(set(days))
    emails = [str(e).strip().lower() for e in values.get("emails") or []]
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            _err(errors, "emails", f"'{email}' is not an e-mail address.")
    values["emails"] = sorted(set(emails))
    phones = [re.sub(r"[\s().-]", "", str(p)) for p in values.get("phones") or []]
    for phone in phones:
        if not E164.match(phone):
            _err(errors, "phones", f"'{phone}' is not a phone number in international form "
                 "(+ country code and number, e.g. +447700900123).")
    values["phones"] = sorted(set(phones))
    total = (len(values["emails"]) + len(values["phones"]) + len(values.get("users") or [])
             + len(values.get("webhooks") or []))
    if total > MAX_RECIPIENTS:
        _err(errors, "emails", f"At most {MAX_RECIPIENTS} recipients per rule.")
    if errors:
        raise ValidationError(errors)


def _save_rule(rule: AlertRule, values: dict[str, Any]) -> None:
    from analytics.alerts.receivers import event_rules_cache_clear

    transaction.on_commit(event_rules_cache_clear)
    for field in RULE_FIELDS:
        if field not in ("users", "webhooks"):
            setattr(rule, field, values[field])
    rule.save()
    rule.recipient_users.set(values.get("users") or [])
    rule.webhooks.set(values.get("webhooks") or [])


def _defaults() -> dict[str, Any]:
    return {"threshold": None, "duration_s": 0, "period_start": None, "period_end": None,
            "severity": Severity.WARNING, "schedule": Schedule.ALWAYS,
            "weekdays": [0, 1, 2, 3, 4, 5, 6], "cooldown_s": 600, "enabled": True,
            "emails": [], "phones": [], "users": [], "webhooks": [], "site": None,
            "camera": None, "line": None, "zone": None}


@transaction.atomic
def alert_rule_create(*, actor: Any, name: str, kind: str, scope: str, **fields: Any,
                      ) -> AlertRule:
    """Create a rule; ``site``/``camera``/``line``/``zone`` give its scope object,
    ``users`` and ``webhooks`` its recipients besides ``emails`` and ``phones``."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    values = {**_defaults(), **fields, "name": name, "kind": kind, "scope": scope}
    _clean(values)
    rule = AlertRule()
    _save_rule(rule, values)
    audit_record(action="alert_rule.create", target=rule, after=rule.audit_values(),
                 actor=actor)
    return rule


@transaction.atomic
def alert_rule_update(*, actor: Any, rule: AlertRule, **fields: Any) -> AlertRule:
    """Change a rule; only the given fields change. Disabling it resolves its open alerts."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
    before = rule.audit_values()
    values = {field: getattr(rule, field) for field in RULE_FIELDS
              if field not in ("users", "webhooks")}
    values["users"] = list(rule.recipient_users.all())
    values["webhooks"] = list(rule.webhooks.all())
    scope_fields = {"scope", "site", "camera", "line", "zone"} & set(fields)
    if scope_fields and "scope" not in fields:
        values["scope"] = next(f for f in ("zone", "line", "camera", "site") if f in fields)
    values.update(fields)
    _clean(values)
    scope_changed = any(values[f] != before[f] if f in before else False
                        for f in ("kind", "scope"))
    _save_rule(rule, values)
    after = rule.audit_values()
    if after == before:
        return rule
    changed_scope = scope_changed or any(
        after[f] != before[f] for f in ("site", "camera", "line", "zone", "kind"))
    if not rule.enabled or changed_scope:
        now = timezone.now()
        reason = "its rule was disabled" if not rule.enabled else "its rule was changed"
        for alert in Alert.objects.filter(rule=rule, state=AlertState.OPEN):
            alert_resolve(alert=alert, reason=reason, now=now)
        AlertCondition.objects.filter(rule=rule).delete()
    audit_record(action="alert_rule.update", target=rule, before=before, after=after,
                 actor=actor)
    return rule


@transaction.atomic
def alert_rule_delete(*, actor: Any, rule: AlertRule) -> None:
    """Delete a rule; its open alerts are resolved (without notifying) and kept as history."""
    before = rule.audit_values()
    now = timezone.now()
    for alert in Alert.objects.filter(rule=rule, state=AlertState.OPEN):
        alert_resolve(alert=alert, reason="its rule was deleted", now=now, notify=False)
    rule_id = rule.pk
    rule.delete()
    from analytics.alerts.receivers import event_rules_cache_clear

    transaction.on_commit(event_rules_cache_clear)
    audit_record(action="alert_rule.delete", target_type="analytics.alertrule",
                 target_id=str(rule_id), before=before, actor=actor)


@transaction.atomic
def alert_acknowledge(*, actor: Any, alert: Alert) -> Alert:
    """Record that ``actor`` has seen the alert (it stays open until its condition clears)."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.acknowledged_at is not None:
        raise ValidationError(
            f"This alert was already acknowledged by "
            f"{alert.acknowledged_by.get_username() if alert.acknowledged_by else 'someone'} "
            f"at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC.", code="conflict")
    alert.acknowledged_at = timezone.now()
    alert.acknowledged_by = actor if getattr(actor, "is_authenticated", False) else None
    alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    audit_record(action="alert.acknowledge", target=alert,
                 after={"acknowledged_at": alert.acknowledged_at, "state": alert.state},
                 actor=actor)
    return alert


# --- webhook endpoints -------------------------------------------------------------------------
def _clean_endpoint(errors: dict[str, list[str]], name: Any, url: Any) -> tuple[str, str]:
    name = (name or "").strip()
    if not name:
        _err(errors, "name", "This field may not be blank.")
    elif len(name) > 100:
        _err(errors, "name", "At most 100 characters.")
    url = (url or "").strip()
    try:
        webhook_url_check(url)
    except WebhookUrlRefused as exc:
        _err(errors, "url", str(exc))
    return name, url


def _unique_endpoint_name(errors: dict[str, list[str]], name: str, exclude: int | None) -> None:
    if WebhookEndpoint.objects.filter(name=name).exclude(pk=exclude or 0).exists():
        _err(errors, "name", f"A webhook endpoint named '{name}' exists already.")


@transaction.atomic
def webhook_endpoint_create(*, actor: Any, name: str, url: str,
                            enabled: bool = True) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it with its signing secret (shown once, stored encrypted).
    The URL must pass the address policy (refused addresses are an error on ``url``)."""
    errors: dict[str, list[str]] = {}
    name, url = _clean_endpoint(errors, name, url)
    _unique_endpoint_name(errors, name, None)
    if errors:
        raise ValidationError(errors)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(name=name, url=url, enabled=enabled)
    endpoint.secret = secret
    endpoint.save()
    audit_record(action="webhook_endpoint.create", target=endpoint,
                 after=endpoint.audit_values(), actor=actor)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(*, actor: Any, endpoint: WebhookEndpoint, name: str = _UNSET,
                            url: str = _UNSET, enabled: bool = _UNSET,
                            rotate_secret: bool = False) -> tuple[WebhookEndpoint, str | None]:
    """Change an endpoint; ``rotate_secret`` issues a new secret (returned once)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = endpoint.audit_values()
    errors: dict[str, list[str]] = {}
    new_name, new_url = _clean_endpoint(
        errors, endpoint.name if name is _UNSET else name,
        endpoint.url if url is _UNSET else url)
    _unique_endpoint_name(errors, new_name, endpoint.pk)
    if errors:
        raise ValidationError(errors)
    endpoint.name, endpoint.url = new_name, new_url
    if enabled is not _UNSET:
        endpoint.enabled = bool(enabled)
    secret = None
    if rotate_secret:
        secret = "whsec_" + secrets.token_urlsafe(32)
        endpoint.secret = secret
    endpoint.save()
    after = endpoint.audit_values()
    audit_record(action="webhook_endpoint.update", target=endpoint, before=before,
                 after={**after, "secret_rotated": rotate_secret}, actor=actor)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_delete(*, actor: Any, endpoint: WebhookEndpoint) -> None:
    before = endpoint.audit_values()
    pk = endpoint.pk
    endpoint.delete()
    audit_record(action="webhook_endpoint.delete", target_type="analytics.webhookendpoint",
                 target_id=str(pk), before=before, actor=actor)


def users_by_ids(ids: list[int]) -> list[Any]:
    """Active users of the tenant with these ids; unknown ids are an error on ``users``."""
    users = list(get_user_model().objects.filter(pk__in=ids, is_active=True))
    missing = set(ids) - {u.pk for u in users}
    if missing:
        raise ValidationError({"users": [f"No active user with id {sorted(missing)}."]})
    return users


def scope_objects(*, site: int | None = None, camera: int | None = None, line: int | None = None,
                  zone: int | None = None) -> dict[str, Any]:
    """Look up scope objects by id (an unknown id is an error on its field)."""
    out: dict[str, Any] = {}
    models: dict[str, Any] = {"site": Site, "camera": Camera, "line": CountingLine, "zone": Zone}
    for field, pk in (("site", site), ("camera", camera), ("line", line), ("zone", zone)):
        if pk is None:
            continue
        obj = models[field].objects.filter(pk=pk).first()
        if obj is None:
            raise ValidationError({field: [f"{field.capitalize()} {pk} does not exist."]})
        out[field] = obj
    return out
