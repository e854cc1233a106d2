"""Portal pages of the counting app: a camera's page (picture with its lines and zones, live
totals, health in plain words, latest crossings) and its picture.

The picture is shown to those who may change the camera (as the API's snapshot): it shows the
scene itself and is what lines are drawn on. Viewers see the lines and zones on a plain
background. Every picture has its people blurred when the tenant's privacy setting asks for it
(counting/privacy.py); the one kept per camera (CameraSnapshot) is stored already blurred.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cameras.local_time import local_today
from cameras.models import Camera
from cameras.selectors import camera_get_visible_to, user_can
from counting.health_text import duration_text, health_text
from counting.models import CameraGap, CountEvent
from counting.privacy import PrivacyBlurError, jpeg_for_display, privacy_blur_required
from counting.selectors import (
    camera_health_condition,
    camera_unanalysed_time,
    counting_line_list_visible_to,
    day_totals,
    zone_list_visible_to,
)
from counting.snapshots import camera_snapshot_get, camera_snapshot_store

LATEST_CROSSINGS = 20


def _camera_or_404(request: HttpRequest, camera_id: int, perm: str = "view") -> Camera:
    camera = camera_get_visible_to(user=request.user, camera_id=camera_id, perm=perm)
    if camera is None:
        raise Http404("No such camera")
    return camera


def rules_payload(camera: Camera, user: Any) -> dict[str, Any]:
    """The camera's lines and zones as the drawing script reads them (normalised 0..1)."""
    lines = counting_line_list_visible_to(user=user, camera_id=camera.pk)
    zones = zone_list_visible_to(user=user, camera_id=camera.pk)
    return {
        "lines": [{"id": line.pk, "name": line.name, "x1": line.x1, "y1": line.y1,
                   "x2": line.x2, "y2": line.y2, "in_label": line.in_label,
                   "out_label": line.out_label, "enabled": line.enabled,
                   "entrance": line.entrance}
                  for line in lines.order_by("id")],
        "zones": [{"id": zone.pk, "name": zone.name, "points": zone.points,
                   "capacity": zone.capacity, "ignore_detections": zone.ignore_detections,
                   "enabled": zone.enabled, "entrance": zone.entrance}
                  for zone in zones.order_by("id")],
    }


def picture_context(camera: Camera, user: Any) -> dict[str, Any]:
    """What a page needs to show the camera's picture (or why it does not)."""
    can_change = user_can(user=user, perm="change", obj=camera)
    snapshot = camera_snapshot_get(camera_id=camera.pk) if can_change else None
    return {"can_change": can_change, "snapshot": snapshot,
            "privacy_blur": privacy_blur_required(),
            "picture_width": snapshot.width if snapshot else 1280,
            "picture_height": snapshot.height if snapshot else 720}


def health_context(camera: Camera, now: datetime) -> dict[str, Any]:
    """The camera's health row, its words, its last gap and the time not analysed in the
    last 24 hours (stalls whole, overloads for the share of frames skipped)."""
    health = getattr(camera, "health", None)  # None before its first run
    condition = camera_health_condition(health=health, camera_enabled=camera.enabled, now=now)
    words = health_text(state=camera.status, reason=camera.status_reason,
                        enabled=camera.enabled, health=health, now=now,
                        condition=condition.condition, condition_reason=condition.reason)
    last_gap = CameraGap.objects.filter(camera_id=camera.pk).order_by("-started_at").first()
    unanalysed = camera_unanalysed_time(camera_id=camera.pk, now=now)
    return {"camera": camera, "health": health, "words": words, "last_gap": last_gap,
            "unanalysed": unanalysed, "unanalysed_text": duration_text(unanalysed.seconds)}


@login_required
@require_GET
def camera_health(request: HttpRequest, camera_id: int) -> HttpResponse:
    """The health card alone (the camera page polls it)."""
    camera = _camera_or_404(request, camera_id)
    return render(request, "counting/_health.html",
                  health_context(camera, datetime.now(tz=UTC)))


@login_required
@require_GET
def camera_live(request: HttpRequest, camera_id: int) -> HttpResponse:
    """A camera's page: picture with lines and zones, live totals, health, latest crossings."""
    camera = _camera_or_404(request, camera_id)
    now = datetime.now(tz=UTC)
    tz = ZoneInfo(camera.site.timezone)
    totals = day_totals(camera_ids=[camera.pk], site_tz=camera.site.timezone,
                        day=local_today(site_tz=camera.site.timezone, now=now))[camera.pk]
    crossings = list(CountEvent.objects.filter(camera_id=camera.pk)
                     .select_related("line").order_by("-occurred_at", "-id")[:LATEST_CROSSINGS])
    lines = [dict(value, id=line_id) for line_id, value in totals["lines"].items()
             if value["enabled"]]
    zones = [dict(value, id=zone_id) for zone_id, value in totals["zones"].items()
             if value["enabled"]]
    return render(request, "counting/camera_live.html", {
        **health_context(camera, now), "site": camera.site, "generated_at": now,
        "site_tz": tz,
        "crossings": [{"at": event.occurred_at.astimezone(tz), "line": event.line.name,
                       "label": (event.line.in_label if event.direction == "in"
                                 else event.line.out_label),
                       "direction": event.direction} for event in crossings],
        "line_totals": lines, "zone_totals": zones,
        "rules": rules_payload(camera, request.user),
        **picture_context(camera, request.user),
    })


@login_required
@require_GET
def camera_picture(request: HttpRequest, camera_id: int) -> HttpResponse:
    """The camera's kept picture (people blurred per the privacy setting)."""
    camera = _camera_or_404(request, camera_id, perm="change")
    snapshot = camera_snapshot_get(camera_id=camera.pk)
    if snapshot is None:
        raise Http404("No picture of this camera yet")
    response = HttpResponse(bytes(snapshot.jpeg), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def camera_picture_refresh(request: HttpRequest, camera_id: int) -> HttpResponse:
    """Grab a new picture now (bounded like the API's snapshot), blur it, keep it."""
    from cameras.api.snapshot_gate import SnapshotBusy, snapshot_answer

    camera = _camera_or_404(request, camera_id, perm="change")
    target = request.POST.get("next") or f"/cameras/{camera.pk}/"
    if not target.startswith("/") or target.startswith("//"):
        target = f"/cameras/{camera.pk}/"
    try:
        answer = snapshot_answer(camera=camera,
                                 schema=connection.schema_name)  # type: ignore[attr-defined]
    except SnapshotBusy as exc:
        messages.error(request, f"No new picture: {exc}")
        return redirect(target)
    if answer.snapshot is None:
        messages.error(request, "No new picture: " + (answer.error_message or
                       "the camera could not be reached.") + " The last picture is kept.")
        return redirect(target)
    try:
        picture = jpeg_for_display(answer.snapshot.jpeg)
    except PrivacyBlurError as exc:
        messages.error(request, str(exc))
        return redirect(target)
    camera_snapshot_store(camera_id=camera.pk, picture=picture)
    blurred = (f" {picture.people} {'person' if picture.people == 1 else 'people'} blurred."
               if picture.people is not None else "")
    messages.success(request, f"New picture taken.{blurred}")
    return redirect(target)
