"""The demo tenant's objects: a site, a camera on the local simulator, two counting lines and a
zone (idempotent: running it again changes nothing)."""

from __future__ import annotations

from cameras.models import Camera, Site
from cameras.services import camera_create, site_create
from counting.models import CountingLine, Zone
from counting.services import counting_line_create, zone_create

# PETS09-S2L1 is 480x360: the horizontal line sits at y = 200 px.
DEMO_LINES = (
    {"name": "Crossing east/west", "x1": 0.5, "y1": 0.0, "x2": 0.5, "y2": 1.0,
     "in_label": "east", "out_label": "west"},
    {"name": "Crossing north/south", "x1": 0.0, "y1": 200 / 360, "x2": 1.0, "y2": 200 / 360,
     "in_label": "north", "out_label": "south"},
)
DEMO_ZONE = {"name": "Plaza centre", "points": [[0.3, 0.3], [0.7, 0.3], [0.7, 0.85],
                                                [0.3, 0.85]], "capacity": 8}


def demo_objects_ensure(*, camera_url: str) -> Camera:
    """Make sure the demo site, camera, lines and zone exist; return the camera."""
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
    for spec in DEMO_LINES:
        if not CountingLine.objects.filter(camera=camera, name=spec["name"]).exists():
            counting_line_create(actor=None, camera=camera, **spec)  # type: ignore[arg-type]
    if not Zone.objects.filter(camera=camera, name=DEMO_ZONE["name"]).exists():
        zone_create(actor=None, camera=camera, **DEMO_ZONE)  # type: ignore[arg-type]
    return camera
