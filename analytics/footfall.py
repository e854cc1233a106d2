"""Footfall definitions: which lines and zones a site's footfall and occupancy come from.

A site's footfall (visits in and out) counts only its entrances: lines and zones marked with
``entrance`` (``counting.constants.EntranceDirection``), each read in its own entering
direction. Other lines stay available as their own counts (``?line=``, ``?camera=``). A site
without any entrance falls back to the sum of all its lines, and says so (``footfall`` is
``"all_lines"``), so existing sites keep their numbers until someone marks the doors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from analytics.series import CountSources
from cameras.models import Site
from cameras.selectors import camera_list_visible_to
from counting.constants import EntranceDirection
from counting.selectors import counting_line_list_visible_to, zone_list_visible_to

FootfallBasis = Literal["entrances", "all_lines"]


@dataclass(frozen=True)
class SiteFootfall:
    """The sources of a site's footfall as visible to a user, and what they are based on."""

    sources: CountSources
    basis: FootfallBasis
    entrances: tuple[dict[str, Any], ...] = ()
    camera_ids: tuple[int, ...] = ()


def site_footfall_sources(*, user: Any, site: Site) -> SiteFootfall:
    """The entrances of ``site`` the user may view (enabled or not: a disabled entrance still
    has the counts it made), or all its lines when it has no entrance."""
    cameras = camera_list_visible_to(user=user).filter(site=site).values("pk")
    lines = list(counting_line_list_visible_to(user=user).filter(camera__in=cameras)
                 .order_by("pk").values_list("pk", "entrance", "camera_id", "name"))
    zones = list(zone_list_visible_to(user=user).filter(camera__in=cameras)
                 .exclude(entrance=EntranceDirection.NONE).filter(ignore_detections=False)
                 .order_by("pk").values_list("pk", "entrance", "camera_id", "name"))
    entrance_lines = [row for row in lines if row[1]]
    if not entrance_lines and not zones:
        return SiteFootfall(
            sources=CountSources(lines=tuple(pk for pk, *_ in lines)), basis="all_lines",
            camera_ids=tuple(sorted({row[2] for row in lines})))
    entrances = tuple(
        [{"type": "line", "id": pk, "name": name, "entering": entrance}
         for pk, entrance, _camera, name in entrance_lines]
        + [{"type": "zone", "id": pk, "name": name, "entering": entrance}
           for pk, entrance, _camera, name in zones])
    return SiteFootfall(
        sources=CountSources(
            lines=tuple(pk for pk, e, *_ in entrance_lines if e == EntranceDirection.IN),
            lines_swapped=tuple(pk for pk, e, *_ in entrance_lines if e == EntranceDirection.OUT),
            zones=tuple(pk for pk, e, *_ in zones if e == EntranceDirection.IN),
            zones_swapped=tuple(pk for pk, e, *_ in zones if e == EntranceDirection.OUT)),
        basis="entrances", entrances=entrances,
        camera_ids=tuple(sorted({row[2] for row in entrance_lines + zones})))
