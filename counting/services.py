"""Writes to counting rules (lines and zones): validated, one transaction, one audit event each.

Every change bumps the rule's ``version``; running streams poll the versions of their camera's
rules every few seconds (see :mod:`counting.runner`) and apply changes without a restart.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from audit.services import audit_record
from cameras.models import Camera
from counting.constants import EntranceDirection
from counting.models import CountEvent, CountingLine, LineMinuteRollup, Zone, ZoneMinuteOccupancy
from counting.pipeline.geometry import polygon_is_simple
from tenants.db import tenant_quota

NAME_MAX = 100
LABEL_MAX = 50
ZONE_POINTS_MAX = 64

LINE_FIELDS = ("name", "x1", "y1", "x2", "y2", "in_label", "out_label", "enabled", "entrance")
ZONE_FIELDS = ("name", "points", "capacity", "ignore_detections", "enabled", "entrance")
ENTRANCE_VALUES = tuple(EntranceDirection.values)


# -- values kept in the audit trail -------------------------------------------------------------
def line_values(line: CountingLine) -> dict[str, Any]:
    """A line's user-visible values (audit before/after)."""
    return {"camera": line.camera_id, "name": line.name, "x1": line.x1, "y1": line.y1,
            "x2": line.x2, "y2": line.y2, "in_label": line.in_label,
            "out_label": line.out_label, "enabled": line.enabled, "entrance": line.entrance,
            "version": line.version}


def zone_values(zone: Zone) -> dict[str, Any]:
    """A zone's user-visible values (audit before/after)."""
    return {"camera": zone.camera_id, "name": zone.name, "points": zone.points,
            "capacity": zone.capacity, "ignore_detections": zone.ignore_detections,
            "enabled": zone.enabled, "entrance": zone.entrance, "version": zone.version}


# -- validation -----------------------------------------------------------------------------------
def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _clean_name(errors: dict[str, list[str]], value: Any, field: str = "name",
                max_length: int = NAME_MAX) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        _add(errors, field, "This field may not be blank.")
    elif len(text) > max_length:
        _add(errors, field, f"At most {max_length} characters.")
    return text


def _clean_coordinate(errors: dict[str, list[str]], field: str, value: Any) -> float:
    """A normalised coordinate: a finite number within 0..1 (fraction of width or height)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        _add(errors, field, "Must be a number between 0 and 1.")
        return 0.0
    try:
        number = float(value)
    except ValueError:
        _add(errors, field, "Must be a number between 0 and 1.")
        return 0.0
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        _add(errors, field, "Coordinates are fractions of the image's width/height: use 0..1.")
    return number


def _clean_points(errors: dict[str, list[str]], value: Any) -> list[list[float]]:
    if not isinstance(value, list | tuple) or len(value) < 3:
        _add(errors, "points", "A zone needs at least 3 points [[x, y], ...].")
        return []
    if len(value) > ZONE_POINTS_MAX:
        _add(errors, "points", f"A zone has at most {ZONE_POINTS_MAX} points.")
        return []
    points: list[list[float]] = []
    local: dict[str, list[str]] = {}
    for index, item in enumerate(value, start=1):
        if not isinstance(item, list | tuple) or len(item) != 2:
            _add(local, "points", f"Point {index} must be a pair [x, y].")
            continue
        x = _clean_coordinate(local, "points", item[0])
        y = _clean_coordinate(local, "points", item[1])
        points.append([x, y])
    if local:
        # One message per problem kind is enough for a user fixing a drawing.
        errors.setdefault("points", []).extend(dict.fromkeys(local["points"]))
        return []
    if not polygon_is_simple([(p[0], p[1]) for p in points]):
        _add(errors, "points", "The polygon has zero area or crossing edges; list its corners "
                               "in order around the boundary.")
    return points


def _clean_capacity(errors: dict[str, list[str]], value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        _add(errors, "capacity", "Capacity must be a positive whole number (or empty).")
        return None
    return value


def _clean_entrance(errors: dict[str, list[str]], value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or value not in ENTRANCE_VALUES:
        _add(errors, "entrance", "Use \"in\" (in is entering the site), \"out\" (out is "
                                 "entering) or \"\" (not an entrance).")
        return ""
    return value


def _check_unique_name(errors: dict[str, list[str]], model: type[CountingLine] | type[Zone],
                       camera_id: int, name: str, exclude_pk: int | None) -> None:
    if not name:
        return
    others = model.objects.filter(camera_id=camera_id, name__iexact=name)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        kind = "line" if model is CountingLine else "zone"
        _add(errors, "name", f"This camera already has a {kind} named '{name}'.")


def _check_rule_quota(errors: dict[str, list[str]], rule: CountingLine | Zone,
                      exclude_pk: int | None) -> None:
    """An enabled line or zone fits the tenant's per-camera quota of enabled ones.

    Disabled rules do not count (they analyse nothing), so disabling one frees a place; a rule
    that already counted cannot be deleted, only disabled.
    """
    if rule.enabled is not True or rule.camera_id is None:
        return
    model = type(rule)
    kind, quota_name = (("counting lines", "lines_per_camera_quota") if model is CountingLine
                        else ("zones", "zones_per_camera_quota"))
    if exclude_pk is not None and model.objects.filter(pk=exclude_pk, enabled=True).exists():
        return  # already enabled: an edit of it does not take a new place
    quota = tenant_quota(quota_name)
    if quota is None:
        return
    others = model.objects.filter(camera_id=rule.camera_id, enabled=True)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.count() >= quota:
        _add(errors, "camera", f"Your plan allows {quota} enabled {kind} per camera and this "
                               f"camera has {quota}: disable or delete one first, or upgrade "
                               "the plan.")


def _lock_camera_rules(camera_id: int) -> None:
    # Two concurrent creations must not both take the last place of the quota.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':rules:' "
                       "|| %s::text))", [camera_id])


def _validate_line(line: CountingLine, exclude_pk: int | None) -> None:
    errors: dict[str, list[str]] = {}
    line.name = _clean_name(errors, line.name)
    line.in_label = _clean_name(errors, line.in_label, "in_label", LABEL_MAX)
    line.out_label = _clean_name(errors, line.out_label, "out_label", LABEL_MAX)
    for field in ("x1", "y1", "x2", "y2"):
        setattr(line, field, _clean_coordinate(errors, field, getattr(line, field)))
    if not errors and math.hypot(line.x2 - line.x1, line.y2 - line.y1) < 1e-6:
        _add(errors, "x2", "The line's start and end are the same point; draw a segment.")
    if not isinstance(line.enabled, bool):
        _add(errors, "enabled", "Must be true or false.")
    line.entrance = _clean_entrance(errors, line.entrance)
    _check_unique_name(errors, CountingLine, line.camera_id, line.name, exclude_pk)
    _check_rule_quota(errors, line, exclude_pk)
    if errors:
        raise ValidationError(errors)


def _validate_zone(zone: Zone, exclude_pk: int | None) -> None:
    errors: dict[str, list[str]] = {}
    zone.name = _clean_name(errors, zone.name)
    zone.points = _clean_points(errors, zone.points)
    zone.capacity = _clean_capacity(errors, zone.capacity)
    if not isinstance(zone.enabled, bool):
        _add(errors, "enabled", "Must be true or false.")
    zone.entrance = _clean_entrance(errors, zone.entrance)
    if zone.entrance and zone.ignore_detections is True:
        _add(errors, "entrance", "A mask (ignore_detections) counts nothing, so it cannot be "
                                 "an entrance; clear one of the two.")
    _check_unique_name(errors, Zone, zone.camera_id, zone.name, exclude_pk)
    _check_rule_quota(errors, zone, exclude_pk)
    if errors:
        raise ValidationError(errors)


def counting_line_check(line: CountingLine) -> None:
    """Validate an unsaved or edited line with the services' rules (admin forms use it);
    raises ValidationError keyed by field."""
    _validate_line(line, exclude_pk=line.pk)


def zone_check(zone: Zone) -> None:
    """Validate an unsaved or edited zone with the services' rules."""
    _validate_zone(zone, exclude_pk=zone.pk)


def _unknown_fields(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})


# -- lines ----------------------------------------------------------------------------------------
@transaction.atomic
def counting_line_create(*, actor: Any, camera: Camera, name: str, x1: float, y1: float,
                         x2: float, y2: float, in_label: str = "in", out_label: str = "out",
                         enabled: bool = True, entrance: str = "") -> CountingLine:
    """Add a counting line to a camera. Crossing from the segment's left to its right side
    (walking from (x1, y1) to (x2, y2), image y down) counts as ``in_label``. ``entrance``
    ("in"/"out"/"") marks it as a site entrance and says which direction is entering."""
    line = CountingLine(camera=camera, name=name, x1=x1, y1=y1, x2=x2, y2=y2,
                        in_label=in_label, out_label=out_label, enabled=enabled,
                        entrance=entrance)
    _lock_camera_rules(camera.pk)
    _validate_line(line, exclude_pk=None)
    line.save()
    audit_record(action="counting_line.create", target=line, after=line_values(line),
                 actor=actor)
    return line


@transaction.atomic
def counting_line_update(*, actor: Any, line: CountingLine, **fields: Any) -> CountingLine:
    """Change some of a line's fields (name, x1, y1, x2, y2, in_label, out_label, enabled,
    entrance).

    A real change bumps ``version`` (running streams pick it up within seconds); a call that
    changes nothing writes nothing and records no audit event.
    """
    _unknown_fields(fields, LINE_FIELDS)
    _lock_camera_rules(line.camera_id)
    line = CountingLine.objects.select_for_update().get(pk=line.pk)
    before = line_values(line)
    for field, value in fields.items():
        setattr(line, field, value)
    _validate_line(line, exclude_pk=line.pk)
    after = line_values(line)
    if after == before:
        return line
    line.version += 1
    line.save()
    audit_record(action="counting_line.update", target=line, before=before,
                 after=line_values(line), actor=actor)
    return line


@transaction.atomic
def counting_line_delete(*, actor: Any, line: CountingLine) -> None:
    """Delete a line that has not counted anything yet; a line with events is kept for the
    ledger's sake and should be disabled instead."""
    if CountEvent.objects.filter(line_id=line.pk).exists() or _line_has_rollups(line.pk):
        raise ValidationError({"line": [
            "This line has counted crossings that reports rely on; disable it instead "
            "(enabled=false) to stop counting."]})
    before = line_values(line)
    line_id = line.pk
    line.delete()
    audit_record(action="counting_line.delete", target_type="counting.countingline",
                 target_id=str(line_id), before=before, actor=actor)


def _line_has_rollups(line_id: int) -> bool:
    return LineMinuteRollup.objects.filter(line_id=line_id).exists()


# -- zones ----------------------------------------------------------------------------------------
@transaction.atomic
def zone_create(*, actor: Any, camera: Camera, name: str, points: list[list[float]],
                capacity: int | None = None, ignore_detections: bool = False,
                enabled: bool = True, entrance: str = "") -> Zone:
    """Add a zone (a simple polygon of >= 3 normalised points) to a camera; with
    ``ignore_detections`` it is a mask (see :class:`counting.models.Zone`); ``entrance`` as
    for lines (a zone entrance's entries, or exits with "out", enter the site)."""
    zone = Zone(camera=camera, name=name, points=points, capacity=capacity,
                ignore_detections=ignore_detections, enabled=enabled, entrance=entrance)
    _lock_camera_rules(camera.pk)
    _validate_zone(zone, exclude_pk=None)
    zone.save()
    audit_record(action="zone.create", target=zone, after=zone_values(zone), actor=actor)
    return zone


@transaction.atomic
def zone_update(*, actor: Any, zone: Zone, **fields: Any) -> Zone:
    """Change some of a zone's fields (name, points, capacity, ignore_detections, enabled,
    entrance); bumps ``version``."""
    _unknown_fields(fields, ZONE_FIELDS)
    _lock_camera_rules(zone.camera_id)
    zone = Zone.objects.select_for_update().get(pk=zone.pk)
    before = zone_values(zone)
    for field, value in fields.items():
        setattr(zone, field, value)
    _validate_zone(zone, exclude_pk=zone.pk)
    if zone_values(zone) == before:
        return zone
    zone.version += 1
    zone.save()
    audit_record(action="zone.update", target=zone, before=before, after=zone_values(zone),
                 actor=actor)
    return zone


@transaction.atomic
def zone_delete(*, actor: Any, zone: Zone) -> None:
    """Delete a zone that has no stored occupancy; otherwise disable it instead."""
    if ZoneMinuteOccupancy.objects.filter(zone_id=zone.pk).exists():
        raise ValidationError({"zone": [
            "This zone has stored occupancy that reports rely on; disable it instead "
            "(enabled=false) to stop measuring."]})
    before = zone_values(zone)
    zone_id = zone.pk
    zone.delete()
    audit_record(action="zone.delete", target_type="counting.zone", target_id=str(zone_id),
                 before=before, actor=actor)
