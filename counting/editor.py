"""The line and zone editor on a camera's picture: one page, one save.

The page (templates/counting/editor.html, static/portal/editor.js) lets an Owner or Manager
draw, drag and delete lines (with the "in" arrow and labels) and zones (polygons, capacity,
masks that ignore detections) on the camera's last picture, which works while the camera is
offline. "Save" posts the whole drawing as JSON; :func:`editor_save` applies it through the
same services as the API (``counting.services``: validation, quotas, one audit event per
change) in ONE transaction: any error and nothing changes, the answer names the item and field
at fault. A running stream picks changes up at its next rules poll (COUNTING_RULES_POLL_S,
3 s by default), well within 10 s.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from cameras.models import Camera
from cameras.selectors import camera_get_visible_to
from counting.models import CountingLine, Zone
from counting.services import (
    LINE_FIELDS,
    ZONE_FIELDS,
    counting_line_create,
    counting_line_delete,
    counting_line_update,
    zone_create,
    zone_delete,
    zone_update,
)
from counting.views import picture_context, rules_payload

MAX_BODY = 256 * 1024


class _Refused(Exception):
    """The drawing cannot be saved: ``errors`` maps "lines.0", "zones.2"... to field errors."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]) -> None:
        super().__init__("refused")
        self.errors = errors


def _camera(request: HttpRequest, camera_id: int) -> Camera:
    camera = camera_get_visible_to(user=request.user, camera_id=camera_id, perm="change")
    if camera is None:
        raise Http404("No such camera")
    return camera


@login_required
@require_GET
def editor_page(request: HttpRequest, camera_id: int) -> HttpResponse:
    """The editor of a camera's lines and zones (Owners and Managers; others get a 404)."""
    camera = _camera(request, camera_id)
    return render(request, "counting/editor.html", {
        "camera": camera, "site": camera.site, "rules": rules_payload(camera, request.user),
        "rules_poll_s": settings.COUNTING_RULES_POLL_S,
        **picture_context(camera, request.user),
    })


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for e in errors for m in e.messages]
                for field, errors in exc.error_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


def _fields(item: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(item) - set(allowed) - {"id"})
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})
    return {name: item[name] for name in allowed if name in item}


def _apply(camera: Camera, actor: Any, body: dict[str, Any]) -> None:
    errors: dict[str, dict[str, list[str]]] = {}
    lines = {line.pk: line for line in CountingLine.objects.filter(camera=camera)}
    zones = {zone.pk: zone for zone in Zone.objects.filter(camera=camera)}
    for index, line_id in enumerate(body.get("delete_lines") or []):
        line = lines.get(line_id) if isinstance(line_id, int) else None
        try:
            if line is None:
                raise ValidationError({"id": ["No such line on this camera."]})
            counting_line_delete(actor=actor, line=line)
        except ValidationError as exc:
            errors[f"delete_lines.{index}"] = _messages(exc)
    for index, zone_id in enumerate(body.get("delete_zones") or []):
        zone = zones.get(zone_id) if isinstance(zone_id, int) else None
        try:
            if zone is None:
                raise ValidationError({"id": ["No such zone on this camera."]})
            zone_delete(actor=actor, zone=zone)
        except ValidationError as exc:
            errors[f"delete_zones.{index}"] = _messages(exc)
    for kind, items, known, fields in (("lines", body.get("lines") or [], lines, LINE_FIELDS),
                                       ("zones", body.get("zones") or [], zones, ZONE_FIELDS)):
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise ValidationError("Each item must be an object.")
                values = _fields(item, fields)
                if item.get("id") is None:
                    if kind == "lines":
                        counting_line_create(actor=actor, camera=camera, **values)
                    else:
                        zone_create(actor=actor, camera=camera, **values)
                    continue
                existing = known.get(item["id"]) if isinstance(item["id"], int) else None
                if existing is None:
                    raise ValidationError({"id": [f"No such {kind[:-1]} on this camera."]})
                if kind == "lines":
                    counting_line_update(actor=actor, line=existing, **values)  # type: ignore[arg-type]
                else:
                    zone_update(actor=actor, zone=existing, **values)  # type: ignore[arg-type]
            except (ValidationError, TypeError) as exc:
                errors[f"{kind}.{index}"] = (_messages(exc) if isinstance(exc, ValidationError)
                                             else {"__all__": [f"Missing or wrong field: {exc}"]})
    if errors:
        raise _Refused(errors)


@login_required
@require_POST
def editor_save(request: HttpRequest, camera_id: int) -> JsonResponse:
    """Apply a whole drawing (JSON) through the services, all or nothing."""
    camera = _camera(request, camera_id)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"detail": "The drawing is too large to save."}, status=413)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"detail": "The drawing could not be read (not JSON)."}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"detail": "The drawing must be a JSON object."}, status=400)
    try:
        with transaction.atomic():
            _apply(camera, request.user, body)
    except _Refused as exc:
        return JsonResponse({"detail": "Nothing was saved: fix the items marked below.",
                             "errors": exc.errors}, status=400)
    poll = settings.COUNTING_RULES_POLL_S
    return JsonResponse({
        "detail": f"Saved. A running camera counts with the new lines and zones within "
                  f"{poll:g} s.",
        "rules": rules_payload(camera, request.user)})
