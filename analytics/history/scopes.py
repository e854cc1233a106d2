"""What a user may put on the history page: sites, cameras, lines and zones, as series keys.

A key is ``"<kind>:<id>"``. A site is its footfall (its entrances, or all its lines when none
is marked: :mod:`analytics.footfall`), a camera the sum of its lines the user may see, exactly
as ``/api/v1/counts/?site=`` or ``?camera=`` computes it, so the page and the API agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from analytics.footfall import site_footfall_sources
from analytics.series import CountSources
from cameras.selectors import camera_list_visible_to, site_list_visible_to
from counting.selectors import counting_line_list_visible_to, zone_list_visible_to

Kind = Literal["site", "camera", "line", "zone"]
KINDS: tuple[Kind, ...] = ("site", "camera", "line", "zone")


@dataclass(frozen=True)
class Scope:
    """One thing to chart: its key, label, timezone, the site's opening hours and the sources
    (lines, entrances) or zone it reads."""

    key: str
    kind: Kind
    id: int
    label: str
    timezone: str
    sources: CountSources = CountSources()
    zone_id: int | None = None
    opening_hours: dict[str, list[list[str]]] | None = None
    camera_ids: tuple[int, ...] = ()

    @property
    def line_ids(self) -> tuple[int, ...]:
        return self.sources.lines + self.sources.lines_swapped

    @property
    def is_occupancy(self) -> bool:
        return self.kind == "zone"


@dataclass(frozen=True)
class Choice:
    """One option of the picker."""

    key: str
    label: str
    depth: int


def _short(text: str, chars: int = 60) -> str:
    return text if len(text) <= chars else text[:chars - 1] + "…"


def scope_choices(*, user: Any) -> list[tuple[str, list[Choice]]]:
    """The picker's options grouped per site: the site, its cameras, their lines and zones."""
    sites = list(site_list_visible_to(user=user))
    cameras = list(camera_list_visible_to(user=user))
    lines = list(counting_line_list_visible_to(user=user).order_by("camera_id", "name", "id")
                 .values_list("pk", "name", "camera_id"))
    zones = list(zone_list_visible_to(user=user).filter(ignore_detections=False)
                 .order_by("camera_id", "name", "id").values_list("pk", "name", "camera_id"))
    by_camera: dict[int, list[Choice]] = {}
    for pk, name, camera_id in lines:
        by_camera.setdefault(camera_id, []).append(Choice(f"line:{pk}", f"Line {_short(name)}", 2))
    for pk, name, camera_id in zones:
        by_camera.setdefault(camera_id, []).append(Choice(f"zone:{pk}", f"Zone {_short(name)}", 2))
    groups: dict[int, list[Choice]] = {site.pk: [Choice(f"site:{site.pk}",
                                                         f"{_short(site.name)} (whole site)", 0)]
                                       for site in sites}
    names = {site.pk: site.name for site in sites}
    for camera in cameras:
        if camera.site_id not in groups:  # a camera granted without its site
            groups[camera.site_id] = []
            names[camera.site_id] = camera.site.name
        groups[camera.site_id].append(Choice(f"camera:{camera.pk}",
                                             f"Camera {_short(camera.name)}", 1))
        groups[camera.site_id].extend(by_camera.get(camera.pk, []))
    return [(_short(names[site_id]), choices) for site_id, choices in groups.items()]


def scope_resolve(*, user: Any, key: str) -> Scope | None:
    """The scope of ``key`` if the user may see it, else None (like a 404)."""
    kind, _, raw = key.partition(":")
    if kind not in KINDS or not raw.isdigit() or len(raw) > 18:
        return None
    pk = int(raw)
    if kind == "site":
        site = site_list_visible_to(user=user).filter(pk=pk).first()
        if site is None:
            return None
        footfall = site_footfall_sources(user=user, site=site)
        return Scope(key, "site", pk, site.name, site.timezone, sources=footfall.sources,
                     opening_hours=site.opening_hours or {}, camera_ids=footfall.camera_ids)
    if kind == "camera":
        camera = camera_list_visible_to(user=user).filter(pk=pk).first()
        if camera is None:
            return None
        lines = counting_line_list_visible_to(user=user, camera_id=camera.pk)
        return Scope(key, "camera", pk, camera.name, camera.site.timezone,
                     sources=CountSources(lines=tuple(lines.values_list("pk", flat=True))),
                     opening_hours=camera.site.opening_hours or {}, camera_ids=(camera.pk,))
    if kind == "line":
        line = counting_line_list_visible_to(user=user).select_related(
            "camera__site").filter(pk=pk).first()
        if line is None:
            return None
        return Scope(key, "line", pk, f"{line.camera.name} · {line.name}",
                     line.camera.site.timezone, sources=CountSources(lines=(line.pk,)),
                     opening_hours=line.camera.site.opening_hours or {},
                     camera_ids=(line.camera_id,))
    zone = zone_list_visible_to(user=user).select_related("camera__site").filter(pk=pk).first()
    if zone is None:
        return None
    return Scope(key, "zone", pk, f"{zone.camera.name} · {zone.name}", zone.camera.site.timezone,
                 zone_id=zone.pk, opening_hours=zone.camera.site.opening_hours or {},
                 camera_ids=(zone.camera_id,))
