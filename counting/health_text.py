"""A camera's health in plain words, for the portal (one sentence a store manager understands).

The runner records terse technical reasons ("stream stopped (disabled)", "cannot open stream
... after 0.0s (unreachable, timed out after 10s, ...)"). Shown as they are next to the state
they contradict themselves ("Disabled (stream stopped (disabled))", "after 0.0s ... timed out
after 10s"). This module turns the state, the reason and the measured health into one headline
and one explanation that agree with each other and say what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cameras.constants import CameraStatus

# A frame older than this while "online" means the picture is not moving on.
STALE_FRAME_S = 30.0

_OPEN_FAILED = re.compile(
    r"cannot open stream .*? after (?P<waited>[\d.]+)s \(unreachable, timed out after "
    r"(?P<timeout>[\d.]+)s")
_GAVE_UP = re.compile(r"gave up after (?P<n>\d+) reconnects")
_STOPPED = re.compile(r"^stream stopped \((?P<why>.*)\)$")
_UNREACHABLE = re.compile(r"^unreachable, next try (?P<when>.*)$")
_WAITING = re.compile(r"^waiting for a stream slot: all (?P<slots>.*?) on (?P<nodes>.*?) are busy")

_STOP_WORDS = {
    "disabled": "The camera is switched off, so nothing is counted.",
    "stopped": "The stream was stopped; it starts again within a minute while the camera is on.",
    "worker-shutdown": "The counting service is restarting; the stream resumes by itself.",
    "tenant suspended": "Your organisation's account is suspended, so nothing is counted.",
    "lease-lost": "Another counting worker took the camera over; it continues there.",
}


@dataclass(frozen=True, slots=True)
class HealthText:
    """A camera's health for people: ``headline`` (2-3 words), ``detail`` (one or two
    sentences, empty when all is well) and ``severity`` (ok, warning, trouble, off)."""

    headline: str
    detail: str
    severity: str

    @property
    def in_trouble(self) -> bool:
        return self.severity in ("warning", "trouble")


def _open_failure(reason: str) -> str | None:
    match = _OPEN_FAILED.search(reason)
    if match is None:
        return None
    waited, timeout = float(match["waited"]), float(match["timeout"])
    if waited + 0.5 < timeout:
        # Refused at once: the address answers but will not stream.
        return ("The camera refused the stream at once: check the address, the user name and "
                "password, and that the camera streams video at that address.")
    return (f"The camera did not answer within {timeout:g} s: check that it is powered on and "
            "reachable from the counting service's network.")


def _explain(state: str, reason: str) -> str:
    """The plain-words explanation of ``reason`` (never repeating the state's name)."""
    reason = reason.strip()
    stopped = _STOPPED.match(reason)
    if stopped is not None:
        why = stopped["why"]
        return _STOP_WORDS.get(why, f"The stream stopped ({why}).")
    unreachable = _UNREACHABLE.match(reason)
    if unreachable is not None:
        return ("The camera could not be reached after several attempts, so its place is "
                f"given to other cameras meanwhile; the next try is {unreachable['when']}. "
                "Check that it is powered on and reachable from the counting service's "
                "network.")
    waiting = _WAITING.match(reason)
    if waiting is not None:
        return (f"All stream slots of the counting service are in use ({waiting['slots']} on "
                f"{waiting['nodes']}); the camera starts by itself as soon as one is free. "
                "If it keeps waiting, ask the platform operator to add stream capacity.")
    opened = _open_failure(reason)
    if opened is not None:
        return opened
    gave_up = _GAVE_UP.search(reason)
    if gave_up is not None:
        return (f"The stream broke off and {gave_up['n']} attempts to reconnect failed; the "
                "service keeps retrying. Check the camera's power and network.")
    if not reason:
        words: dict[str, str] = {
            CameraStatus.STARTING: "Waiting for the first picture from the camera.",
            CameraStatus.WAITING: "Waiting for a free stream slot; it starts by itself.",
            CameraStatus.OFFLINE: "No picture from the camera. Check its power and network.",
            CameraStatus.FROZEN: "The camera sends the same picture again and again.",
            CameraStatus.ERROR: "Counting failed on this camera; the service retries by itself.",
            CameraStatus.DISABLED: _STOP_WORDS["disabled"],
        }
        return words.get(state, "")
    return reason[0].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


def health_text(*, state: str, reason: str = "", enabled: bool = True,
                health: Any = None, now: datetime | None = None,
                condition: str | None = None, condition_reason: str = "") -> HealthText:
    """One camera's health in plain words.

    ``state`` and ``reason`` are the camera's mirrored status; ``health`` (a ``CameraHealth``
    or None) adds the frame age and the degraded condition; ``condition`` (with its reason)
    overrides the health row's, e.g. "stalled" when its runner stopped reporting.
    """
    if not enabled or state == CameraStatus.DISABLED:
        return HealthText("Switched off", _STOP_WORDS["disabled"], "off")
    if state == CameraStatus.ONLINE:
        if condition is None:
            condition = getattr(health, "condition", "ok")
            condition_reason = getattr(health, "condition_reason", "")
        age = getattr(health, "frame_age_s", None)
        if condition == "stalled":
            why = condition_reason or "frames are not being analysed"
            return HealthText("Not counting", _explain(state, why), "trouble")
        if age is not None and age > STALE_FRAME_S:
            return HealthText("Picture delayed",
                              f"The newest picture is {age:.0f} s old; counts may lag.",
                              "warning")
        if condition == "degraded":
            why = condition_reason
            return HealthText("Counting, delayed",
                              (_explain(state, why) + " " if why else "")
                              + "Counts are kept and saved when it recovers.", "warning")
        return HealthText("Counting", "", "ok")
    headlines: dict[str, str] = {
        CameraStatus.STARTING: "Starting",
        CameraStatus.WAITING: "Waiting for a slot",
        CameraStatus.OFFLINE: "Offline",
        CameraStatus.FROZEN: "Picture frozen",
        CameraStatus.ERROR: "Error",
    }
    headline = headlines.get(state, state.capitalize() or "Unknown")
    severity = "warning" if state in (CameraStatus.STARTING, CameraStatus.WAITING) else "trouble"
    return HealthText(headline, _explain(state, reason), severity)


def duration_text(seconds: float) -> str:
    """A length of time for people: "none", "45 s", "12 min 5 s", "3 h 20 min"."""
    whole = round(seconds)
    if whole <= 0:
        return "none"
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"
