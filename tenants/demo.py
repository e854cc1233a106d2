"""The demo tenant's objects: a site and a camera on the local simulator (idempotent)."""

from __future__ import annotations

from cameras.models import Camera, Site
from cameras.services import camera_create, site_create


def demo_objects_ensure(*, camera_url: str) -> Camera:
    """Make sure the demo site and camera exist; return the camera."""
    site = Site.objects.filter(name="Demo plaza").first() or site_create(
        actor=None, name="Demo plaza", timezone="Europe/London",
        address="University plaza (PETS 2009 footage)",
        opening_hours={day: [["07:00", "22:00"]]
                       for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )
    camera = Camera.objects.filter(site=site, name="Plaza overview").first()
    if camera is None:
        camera = camera_create(actor=None, site=site, name="Plaza overview",
                               stream_url=camera_url, detect_fps=7.0)
    return camera
