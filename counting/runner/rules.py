"""Adapters between the Django models and the pure pipeline: rules, URLs, times, detector."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings

from cameras.models import Camera
from counting.models import CountingLine, Zone
from counting.pipeline.specs import LineSpec, MaskSpec, ZoneSpec


def line_spec(line: CountingLine) -> LineSpec:
    """The pipeline spec of a stored line; its key is the line's primary key."""
    return LineSpec(key=str(line.pk), name=line.name, start=(line.x1, line.y1),
                    end=(line.x2, line.y2))


def zone_spec(zone: Zone) -> ZoneSpec:
    """The pipeline spec of a stored zone; its key is the zone's primary key."""
    return ZoneSpec(key=str(zone.pk), name=zone.name, points=_points(zone))


def engine_rules(
    lines: list[CountingLine], zones: list[Zone]
) -> tuple[list[LineSpec], list[ZoneSpec], list[MaskSpec]]:
    """A camera's enabled rules as the engine takes them: zones marked ``ignore_detections``
    become masks and count nothing."""
    masks = [mask_spec(z) for z in zones if z.ignore_detections]
    counted = [zone_spec(z) for z in zones if not z.ignore_detections]
    return [line_spec(x) for x in lines], counted, masks


def mask_spec(zone: Zone) -> MaskSpec:
    """The pipeline mask of a zone marked ``ignore_detections``."""
    return MaskSpec(key=str(zone.pk), name=zone.name, points=_points(zone))


def _points(zone: Zone) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in zone.points)


def epoch_to_utc(seconds: float) -> datetime:
    """Pipeline float seconds (epoch, live streams) to an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def stream_url_with_credentials(camera: Camera) -> str:
    """The URL FFmpeg opens: credentials (stored encrypted) inserted only here, in memory."""
    if not camera.username:
        return camera.stream_url
    parts = urlsplit(camera.stream_url)
    userinfo = quote(camera.username, safe="")
    if camera.has_password:
        userinfo += ":" + quote(camera.password, safe="")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host += f":{parts.port}"
    return parts._replace(netloc=f"{userinfo}@{host}").geturl()


_detectors: dict[tuple[str, str, int | None], Any] = {}
_detectors_lock = threading.Lock()


def shared_detector() -> Any:
    """One detector per worker process, reused by every stream task it runs (loading the
    model takes seconds; a prefork child runs one stream at a time)."""
    key = (
        str(settings.COUNTING_MODEL_PATH),
        settings.COUNTING_DETECTOR_BACKEND,
        settings.COUNTING_DETECTOR_INPUT_SIZE,
    )
    with _detectors_lock:
        if key not in _detectors:
            from counting.pipeline.detectors import create_detector

            _detectors[key] = create_detector(
                settings.COUNTING_MODEL_PATH, backend=settings.COUNTING_DETECTOR_BACKEND,
                score_threshold=settings.COUNTING_SCORE_THRESHOLD,
                device=settings.COUNTING_DEVICE, threads=settings.COUNTING_TORCH_THREADS,
                input_size=settings.COUNTING_DETECTOR_INPUT_SIZE)
        return _detectors[key]
