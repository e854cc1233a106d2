"""Stored counting rules as the pure pipeline takes them (lines, zones and masks as specs)."""

from __future__ import annotations

from counting.models import CountingLine, Zone
from counting.pipeline.specs import LineSpec, MaskSpec, ZoneSpec


def line_spec(line: CountingLine) -> LineSpec:
    """The pipeline spec of a stored line; its key is the line's primary key."""
    return LineSpec(key=str(line.pk), name=line.name, start=(line.x1, line.y1),
                    end=(line.x2, line.y2))


def zone_spec(zone: Zone) -> ZoneSpec:
    """The pipeline spec of a stored zone; its key is the zone's primary key."""
    return ZoneSpec(key=str(zone.pk), name=zone.name, points=_points(zone))


def mask_spec(zone: Zone) -> MaskSpec:
    """The pipeline mask of a zone marked ``ignore_detections``."""
    return MaskSpec(key=str(zone.pk), name=zone.name, points=_points(zone))


def engine_rules(
    lines: list[CountingLine], zones: list[Zone]
) -> tuple[list[LineSpec], list[ZoneSpec], list[MaskSpec]]:
    """A camera's enabled rules as the engine takes them: zones marked ``ignore_detections``
    become masks and count nothing."""
    masks = [mask_spec(z) for z in zones if z.ignore_detections]
    counted = [zone_spec(z) for z in zones if not z.ignore_detections]
    return [line_spec(x) for x in lines], counted, masks


def _points(zone: Zone) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in zone.points)
