"""The sentences alerts and notifications say, for people."""

from __future__ import annotations

from typing import Any

from analytics.alerts.constants import RuleKind


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def alert_message(*, kind: str, label: str, value: float | None, threshold: float | None,
                  duration_s: int, details: dict[str, Any]) -> str:
    """One line saying what is wrong, where, and by how much."""
    held = f" for {_duration(duration_s)}" if duration_s else ""
    if kind == RuleKind.OCCUPANCY_ABOVE:
        return f"{label}: {_num(value)} people present, above {_num(threshold)}{held}"
    if kind == RuleKind.OCCUPANCY_BELOW:
        return f"{label}: {_num(value)} people present, below {_num(threshold)}{held}"
    if kind == RuleKind.FOOTFALL_ABOVE:
        return f"{label}: {_num(value)} entries in the period, more than {_num(threshold)}"
    if kind == RuleKind.FOOTFALL_BELOW:
        return f"{label}: {_num(value)} entries in the period, fewer than {_num(threshold)}"
    if kind == RuleKind.CAMERA_OFFLINE:
        reason = details.get("reason") or "no stream"
        return f"{label}: camera offline{held} ({reason})"
    if kind == RuleKind.CAMERA_FROZEN:
        return f"{label}: the picture is frozen{held}"
    if kind == RuleKind.CAMERA_LOW_FPS:
        return (f"{label}: analysed at {_num(value)} fps, below its detect rate "
                f"({_num(details.get('detect_fps'))} fps){held}")
    if kind == RuleKind.DATA_INCOMPLETE:
        return (f"{label}: data of the period is {_num(value)} % complete, below "
                f"{_num(threshold if threshold is not None else 95)} %")
    return f"{label}: {kind}"
