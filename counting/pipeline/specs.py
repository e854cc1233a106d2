"""Counting rules: lines and zones in normalised (0..1) image coordinates.

Coordinates are fractions of the frame's width (x) and height (y), so a rule survives a change
of stream resolution. Distances (hysteresis band, hand-off radius) are fractions of the frame's
shorter side.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

from counting.pipeline.geometry import polygon_is_simple
from counting.pipeline.types import AnchorKind, Point

#: Bumped whenever the counting semantics change; part of every rule version.
COUNTING_ALGORITHM = "lc4"

_ANCHORS: tuple[AnchorKind, ...] = ("bottom_center", "center", "top_center")


def _check_point(label: str, p: Point) -> Point:
    if len(p) != 2:
        raise ValueError(f"{label}: a point needs exactly two coordinates, got {p!r}")
    x, y = float(p[0]), float(p[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{label}: coordinates must be finite numbers, got {p!r}")
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(
            f"{label}: coordinates are normalised, each must be within 0..1 "
            f"(fraction of width/height), got ({x}, {y})"
        )
    return (x, y)


def _digest(payload: object) -> str:
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class LineSpec:
    """A directed counting segment. Crossing from its left to its right side is ``"in"``;
    see :mod:`counting.pipeline.geometry` for what left means with y pointing down.

    ``hysteresis``: half-width of the dead band around the line (fraction of the frame's
    shorter side); a track's side only changes once its anchor leaves the band.
    ``confirm_frames``: consecutive observations beyond the band on the new side needed before
    a crossing counts (a track that ends while pending is counted when it is pruned).
    ``handoff_radius`` / ``handoff_s``: a new track id that appears within this distance of
    where a track near the line was lost, within this many seconds, inherits its side, so an id
    switch at the line neither loses nor doubles a crossing.
    ``split_s`` / ``split_iou``: a new track emerging (box IoU >= split_iou) from a track that
    crossed within split_s seconds crossed with it (a group detected as one box); 0 disables.
    ``track_ttl_s``: state of a track unseen for longer is dropped (an id reused later starts
    fresh).
    """

    key: str
    name: str
    start: Point
    end: Point
    anchor: AnchorKind = "bottom_center"
    hysteresis: float = 0.02
    confirm_frames: int = 2
    handoff_radius: float = 0.1
    handoff_s: float = 2.0
    split_s: float = 1.5
    split_iou: float = 0.3
    track_ttl_s: float = 6.0

    def __post_init__(self) -> None:
        label = f"line {self.name or self.key!r}"
        object.__setattr__(self, "start", _check_point(f"{label} start", self.start))
        object.__setattr__(self, "end", _check_point(f"{label} end", self.end))
        if self.start == self.end:
            raise ValueError(f"{label}: start and end are the same point; draw a segment")
        _check_common(label, self.anchor, self.hysteresis, self.confirm_frames, self.track_ttl_s)
        if self.handoff_radius < 0 or self.handoff_s < 0 or self.split_s < 0:
            raise ValueError(f"{label}: handoff_radius, handoff_s and split_s must be >= 0")
        if not 0.0 < self.split_iou <= 1.0:
            raise ValueError(f"{label}: split_iou must be within (0, 1], got {self.split_iou}")

    @property
    def rule_version(self) -> str:
        """Short hash of geometry and parameters, stable across processes."""
        return _digest(
            [
                COUNTING_ALGORITHM,
                "line",
                [round(v, 6) for v in (*self.start, *self.end)],
                self.anchor,
                round(self.hysteresis, 6),
                self.confirm_frames,
                round(self.handoff_radius, 6),
                round(self.handoff_s, 6),
                round(self.split_s, 6),
                round(self.split_iou, 6),
                round(self.track_ttl_s, 6),
            ]
        )


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """A polygonal zone (simple polygon, >= 3 normalised points) with occupancy and dwell.

    Membership uses the same hysteresis band and confirmation as lines, measured from the
    polygon boundary. ``presence_s``: an occupant unseen for longer (lost by the tracker,
    occluded, gone through a frame edge) no longer counts in the occupancy; it is not an exit,
    and the same id seen again within ``track_ttl_s`` is present again without a new entry.
    ``handoff_radius`` (fraction of the frame's shorter side; 0 disables): a new id first seen
    inside this close to where an occupant was lost within ``presence_s`` is that occupant
    (an id switch), keeping its entry time.
    """

    key: str
    name: str
    points: tuple[Point, ...]
    anchor: AnchorKind = "bottom_center"
    hysteresis: float = 0.01
    confirm_frames: int = 2
    track_ttl_s: float = 6.0
    presence_s: float = 2.0
    handoff_radius: float = 0.1

    def __post_init__(self) -> None:
        label = f"zone {self.name or self.key!r}"
        object.__setattr__(self, "points", _check_polygon(label, self.points))
        _check_common(label, self.anchor, self.hysteresis, self.confirm_frames, self.track_ttl_s)
        if not 0.0 <= self.presence_s <= self.track_ttl_s:
            raise ValueError(
                f"{label}: presence_s must be within 0..track_ttl_s ({self.track_ttl_s}), "
                f"got {self.presence_s}"
            )
        if self.handoff_radius < 0:
            raise ValueError(f"{label}: handoff_radius must be >= 0, got {self.handoff_radius}")

    @property
    def rule_version(self) -> str:
        """Short hash of geometry and parameters, stable across processes."""
        return _digest(
            [
                COUNTING_ALGORITHM,
                "zone",
                [[round(x, 6), round(y, 6)] for x, y in self.points],
                self.anchor,
                round(self.hysteresis, 6),
                self.confirm_frames,
                round(self.track_ttl_s, 6),
                round(self.presence_s, 6),
                round(self.handoff_radius, 6),
            ]
        )


@dataclass(frozen=True, slots=True)
class MaskSpec:
    """A region whose detections are ignored: a sign, a mannequin or a poster that the
    detector takes for a person. A detection whose foot point (bottom centre) is inside never
    reaches the tracker, so it is neither counted on a line nor an occupant of a zone."""

    key: str
    name: str
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        label = f"mask {self.name or self.key!r}"
        object.__setattr__(self, "points", _check_polygon(label, self.points))


def _check_polygon(label: str, points: tuple[Point, ...]) -> tuple[Point, ...]:
    pts = tuple(_check_point(f"{label} point {i + 1}", p) for i, p in enumerate(points))
    if len(pts) < 3:
        raise ValueError(f"{label}: a polygon needs at least 3 points, got {len(pts)}")
    if not polygon_is_simple(pts):
        raise ValueError(
            f"{label}: the polygon has zero area or crossing edges; list its corners in "
            "order around the boundary"
        )
    return pts


def _check_common(
    label: str, anchor: str, hysteresis: float, confirm_frames: int, ttl: float
) -> None:
    if anchor not in _ANCHORS:
        raise ValueError(f"{label}: anchor must be one of {', '.join(_ANCHORS)}, got {anchor!r}")
    if not (0.0 <= hysteresis < 0.5):
        raise ValueError(f"{label}: hysteresis must be within 0..0.5, got {hysteresis}")
    if confirm_frames < 1:
        raise ValueError(f"{label}: confirm_frames must be >= 1, got {confirm_frames}")
    if not ttl > 0:
        raise ValueError(f"{label}: track_ttl_s must be > 0, got {ttl}")
