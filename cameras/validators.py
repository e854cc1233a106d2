"""Validation of site and camera input, with messages a user can act on."""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError

from cameras.constants import DETECT_FPS_MAX, DETECT_FPS_MIN, WEEKDAYS
from cameras.url_policy import StreamUrlRefused, validate_stream_url

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def validate_timezone(value: str) -> str:
    if not isinstance(value, str) or not value or value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"'{value}' is not an IANA timezone; use a name such as Europe/Paris or "
            "America/New_York.", code="invalid_timezone")
    return value


def validate_opening_hours(value: Any) -> dict[str, list[list[str]]]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError("Opening hours must map weekdays (mon..sun) to lists of "
                              "[\"HH:MM\", \"HH:MM\"] ranges.", code="invalid_hours")
    cleaned: dict[str, list[list[str]]] = {}
    for day, ranges in value.items():
        if day not in WEEKDAYS:
            raise ValidationError(f"'{day}' is not a weekday; use one of {', '.join(WEEKDAYS)}.",
                                  code="invalid_hours")
        if not isinstance(ranges, list):
            raise ValidationError(f"Opening hours of {day} must be a list of ranges.",
                                  code="invalid_hours")
        day_ranges: list[list[str]] = []
        for item in ranges:
            if (not isinstance(item, (list, tuple)) or len(item) != 2
                    or not all(isinstance(t, str) and _TIME.match(t) for t in item)):
                raise ValidationError(f"{day}: each range is [\"HH:MM\", \"HH:MM\"], got {item!r}.",
                                      code="invalid_hours")
            if item[0] >= item[1]:
                raise ValidationError(f"{day}: a range must open before it closes ({item!r}).",
                                      code="invalid_hours")
            day_ranges.append([item[0], item[1]])
        day_ranges.sort()
        for first, second in zip(day_ranges, day_ranges[1:], strict=False):
            if second[0] < first[1]:
                raise ValidationError(f"{day}: ranges overlap.", code="invalid_hours")
        cleaned[day] = day_ranges
    return cleaned


def validate_camera_url(value: str) -> str:
    try:
        return validate_stream_url(value)
    except StreamUrlRefused as exc:
        raise ValidationError(str(exc), code="url_refused") from exc


def validate_detect_fps(value: float) -> float:
    if not isinstance(value, (int, float)) or not DETECT_FPS_MIN <= float(value) <= DETECT_FPS_MAX:
        raise ValidationError(
            f"detect_fps must be between {DETECT_FPS_MIN} and {DETECT_FPS_MAX} frames per second.",
            code="invalid_fps")
    return float(value)
