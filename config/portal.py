"""The tenant portal's pages (server-rendered)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from cameras.selectors import camera_get_visible_to, camera_list_visible_to, site_list_visible_to


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Sites and cameras the user may see, with their live state."""
    sites = site_list_visible_to(user=request.user)
    cameras = camera_list_visible_to(user=request.user)
    return render(request, "portal/dashboard.html", {"sites": sites, "cameras": cameras})


@login_required
def camera_live(request: HttpRequest, camera_id: int) -> HttpResponse:
    """Today's counts of one camera, updated live over its WebSocket."""
    camera = camera_get_visible_to(user=request.user, camera_id=camera_id)
    if camera is None:
        raise Http404("No such camera")
    return render(request, "portal/camera.html", {"camera": camera})
