"""Portal pages of the cameras app: the dashboard of the sites and cameras a user may see."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cameras.selectors import camera_list_visible_to, site_list_visible_to


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Sites and cameras the user may see, with their live state."""
    sites = site_list_visible_to(user=request.user)
    cameras = camera_list_visible_to(user=request.user)
    return render(request, "cameras/dashboard.html", {"sites": sites, "cameras": cameras})
