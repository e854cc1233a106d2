"""Portal pages of the counting app: a camera's live counts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from cameras.selectors import camera_get_visible_to


@login_required
def camera_live(request: HttpRequest, camera_id: int) -> HttpResponse:
    """Today's counts of one camera, updated live over its WebSocket."""
    camera = camera_get_visible_to(user=request.user, camera_id=camera_id)
    if camera is None:
        raise Http404("No such camera")
    return render(request, "counting/camera_live.html", {"camera": camera})
