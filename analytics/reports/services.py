"""Writes with rules: report schedules (create, update, delete) and unsubscribing.

Each validates (a ``ValidationError`` per field, nothing written), writes in one transaction and
records one audit event. The scope is checked against the actor's object permissions: nobody
schedules the numbers of a site they may not view.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from analytics.reports.models import (
    ExportFormat,
    Frequency,
    ReportBucket,
    ReportSchedule,
)
from audit.services import audit_record
from cameras.models import Camera, Site
from cameras.selectors import user_can
from counting.models import CountingLine, Zone
from tenants.db import connection

MAX_RECIPIENTS = 50
SCHEDULE_FIELDS = ("name", "frequency", "send_time", "weekday", "site", "camera", "line",
                   "zone", "bucket", "format", "recipients", "enabled")
UNSUBSCRIBE_SALT = "analytics.reports.unsubscribe"


def _err(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _clean_scope(errors: dict[str, list[str]], values: dict[str, Any], actor: Any) -> None:
    """The narrowest of zone, line, camera, site is the scope; the wider ones follow from it."""
    zone, line, camera, site = (values.get(k) for k in ("zone", "line", "camera", "site"))
    if zone is not None and line is not None:
        _err(errors, "zone", "Choose a line or a zone, not both.")
        return
    narrow = zone or line or camera or site
    if narrow is None:
        _err(errors, "site", "Choose the site (or a camera, line or zone) to report on.")
        return
    if isinstance(narrow, Zone | CountingLine):
        if camera is not None and narrow.camera_id != camera.pk:
            _err(errors, "camera", "This camera is not the one of the chosen line or zone.")
            return
        camera = narrow.camera
    if isinstance(camera, Camera):
        if site is not None and camera.site_id != site.pk:
            _err(errors, "site", "This site is not the one of the chosen camera.")
            return
        site = camera.site
    assert isinstance(site, Site)
    target: Camera | Site = camera if isinstance(camera, Camera) else site
    if actor is not None and not user_can(user=actor, perm="view", obj=target):
        _err(errors, "site", "You may not view this site or camera.")
        return
    if isinstance(zone, Zone) and zone.ignore_detections:
        _err(errors, "zone", "This zone is a mask (it counts nothing): choose another zone.")
    values.update(site=site, camera=camera if isinstance(camera, Camera) else None)


def _clean(values: dict[str, Any], actor: Any) -> None:
    errors: dict[str, list[str]] = {}
    name = str(values.get("name") or "").strip()
    if not name:
        _err(errors, "name", "Give the report a name.")
    elif len(name) > 200:
        _err(errors, "name", "At most 200 characters.")
    values["name"] = name
    if values.get("frequency") not in Frequency.values:
        _err(errors, "frequency", f"Choose one of {', '.join(Frequency.values)}.")
    if not isinstance(values.get("send_time"), time):
        _err(errors, "send_time", "Give the local time to send at, e.g. 07:00.")
    else:
        values["send_time"] = values["send_time"].replace(second=0, microsecond=0)
    weekday = values.get("weekday", 0)
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
        _err(errors, "weekday", "A weekday from 0 (Monday) to 6 (Sunday).")
    if values.get("bucket") not in ReportBucket.values:
        _err(errors, "bucket", f"Choose one of {', '.join(ReportBucket.values)}.")
    elif values.get("frequency") == Frequency.MONTHLY and values["bucket"] == "hour":
        _err(errors, "bucket", "A monthly report per hour has 700+ rows: choose day.")
    if values.get("format") not in ExportFormat.values:
        _err(errors, "format", f"Choose one of {', '.join(ExportFormat.values)}.")
    recipients = values.get("recipients")
    if isinstance(recipients, str):
        recipients = [r for r in recipients.replace(";", ",").replace("\n", ",").split(",")]
    emails = sorted({str(r).strip().lower() for r in recipients or [] if str(r).strip()})
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            _err(errors, "recipients", f"'{email}' is not an e-mail address.")
    if not emails:
        _err(errors, "recipients", "Give at least one e-mail address.")
    elif len(emails) > MAX_RECIPIENTS:
        _err(errors, "recipients", f"At most {MAX_RECIPIENTS} recipients per report.")
    values["recipients"] = emails
    values["enabled"] = bool(values.get("enabled", True))
    _clean_scope(errors, values, actor)
    if errors:
        raise ValidationError(errors)


def _defaults() -> dict[str, Any]:
    return {"frequency": Frequency.DAILY, "weekday": 0, "bucket": ReportBucket.HOUR,
            "format": ExportFormat.PDF, "enabled": True, "site": None, "camera": None,
            "line": None, "zone": None, "recipients": []}


@transaction.atomic
def report_schedule_create(*, actor: Any, **fields: Any) -> ReportSchedule:
    """Create a schedule (fields of ``SCHEDULE_FIELDS``; ``site``/``camera``/``line``/``zone``
    are objects, the narrowest given is the scope)."""
    unknown = set(fields) - set(SCHEDULE_FIELDS)
    if unknown:
        raise ValidationError({"non_field_errors": [f"Unknown fields: {sorted(unknown)}."]})
    values = {**_defaults(), **fields}
    _clean(values, actor)
    schedule = ReportSchedule(created_by=actor if getattr(actor, "pk", None) else None,
                              **{f: values[f] for f in SCHEDULE_FIELDS})
    schedule.save()
    audit_record(action="report_schedule.create", target=schedule, actor=actor,
                 after=schedule.audit_values())
    return schedule


@transaction.atomic
def report_schedule_update(*, actor: Any, schedule: ReportSchedule,
                           **fields: Any) -> ReportSchedule:
    """Change a schedule; fields not given keep their values."""
    unknown = set(fields) - set(SCHEDULE_FIELDS)
    if unknown:
        raise ValidationError({"non_field_errors": [f"Unknown fields: {sorted(unknown)}."]})
    locked = ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
    before = locked.audit_values()
    values = {f: getattr(locked, f) for f in SCHEDULE_FIELDS}
    if {"site", "camera", "line", "zone"} & set(fields):
        values.update(site=None, camera=None, line=None, zone=None)
    values.update(fields)
    _clean(values, actor)
    for field in SCHEDULE_FIELDS:
        setattr(locked, field, values[field])
    locked.save()
    audit_record(action="report_schedule.update", target=locked, actor=actor, before=before,
                 after=locked.audit_values())
    return locked


@transaction.atomic
def report_schedule_delete(*, actor: Any, schedule: ReportSchedule) -> None:
    """Delete a schedule and the record of its sends."""
    before = schedule.audit_values()
    audit_record(action="report_schedule.delete", target=schedule, actor=actor, before=before)
    schedule.delete()


def unsubscribe_token(*, schedule: ReportSchedule, email: str) -> str:
    """A signed token (this tenant's schema, the schedule, the address) for the unsubscribe
    link of an e-mail; it does not expire (an old report's link must keep working)."""
    return signing.dumps({"s": connection.schema_name, "r": schedule.pk, "e": email.lower()},
                         salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> tuple[ReportSchedule, str] | None:
    """The schedule and address of a token made in this tenant's schema, else None."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != connection.schema_name:
        return None
    schedule = ReportSchedule.objects.filter(pk=int(data.get("r") or 0)).first()
    if schedule is None:
        return None
    return schedule, str(data.get("e") or "")


@transaction.atomic
def report_unsubscribe(*, schedule: ReportSchedule, email: str) -> bool:
    """Remove ``email`` from the schedule's recipients (audited without an actor: the link
    works without signing in). False when it was not a recipient any more."""
    locked = ReportSchedule.objects.select_for_update().get(pk=schedule.pk)
    if email not in locked.recipients:
        return False
    before = locked.audit_values()
    locked.recipients = [r for r in locked.recipients if r != email]
    if not locked.recipients:
        locked.enabled = False  # nobody left to send to
    locked.save(update_fields=["recipients", "enabled", "updated_at"])
    audit_record(action="report_schedule.unsubscribe", target=locked, actor=None, before=before,
                 after=locked.audit_values())
    return True
