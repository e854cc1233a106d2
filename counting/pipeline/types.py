"""Value types passed between pipeline stages.

Every stage hands the next one small frozen dataclasses (supervision's shape): a :class:`Frame`
from a source, :class:`Detections` from a detector, :class:`Track` objects from the tracker and
:class:`CrossingEvent` / :class:`ZoneEvent` from the counters. Arrays inside frozen dataclasses
are treated as read-only by convention; stages never mutate what they receive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ImageArray = npt.NDArray[np.uint8]
Point = tuple[float, float]
Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame.

    ``time`` is in float seconds: the presentation timestamp for files, the wall clock (epoch)
    at reception for live streams. ``index`` counts frames delivered by the source, from 0.
    """

    image: ImageArray
    index: int
    time: float

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class Detections:
    """Person boxes of one frame in pixel ``xyxy`` coordinates of the original image."""

    xyxy: FloatArray  # (N, 4) float32
    scores: FloatArray  # (N,) float32

    def __post_init__(self) -> None:
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        if self.scores.shape != (self.xyxy.shape[0],):
            raise ValueError(f"scores must have shape ({self.xyxy.shape[0]},)")

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    @staticmethod
    def empty() -> Detections:
        """No detections."""
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))


@dataclass(frozen=True, slots=True)
class Track:
    """A confirmed track in one frame: a stable per-camera id and its current box."""

    track_id: int
    xyxy: tuple[float, float, float, float]
    score: float
    # Boxes seen while the track was tentative, oldest first; only set on the frame the track
    # is confirmed, so counters know where a new track came from.
    prior: tuple[tuple[float, float, float, float], ...] = ()

    def anchor(self, kind: AnchorKind) -> Point:
        """The point of the box that is tested against lines and zones."""
        return box_anchor(self.xyxy, kind)


def box_anchor(xyxy: tuple[float, float, float, float], kind: AnchorKind) -> Point:
    """Anchor point of an xyxy box."""
    x1, y1, x2, y2 = xyxy
    if kind == "bottom_center":
        return ((x1 + x2) / 2.0, y2)
    if kind == "center":
        return ((x1 + x2) / 2.0, (y1 + y2) / 2.0)
    return ((x1 + x2) / 2.0, y1)  # top_center


AnchorKind = Literal["bottom_center", "center", "top_center"]


@dataclass(frozen=True, slots=True)
class CrossingEvent:
    """One counted crossing of a line.

    ``rule_version`` is a short stable hash of the line geometry and counting parameters (see
    :func:`counting.pipeline.counters.rule_version`), so a stored event can always be traced
    to the rule that produced it, across processes and restarts.
    """

    line_key: str
    line_name: str
    track_id: int
    direction: Direction
    time: float
    frame_index: int
    score: float
    rule_version: str
    point: Point = (0.0, 0.0)  # crossing point in pixels, for debugging/overlays


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    """A track entering or leaving a zone; ``dwell`` is seconds inside (0 on entry)."""

    zone_key: str
    zone_name: str
    track_id: int
    kind: Literal["enter", "exit"]
    time: float
    frame_index: int
    dwell: float
    rule_version: str


@dataclass(frozen=True, slots=True)
class ZoneState:
    """Zone state after one frame: occupancy, totals, this frame's events, per-track dwell."""

    key: str
    name: str
    occupancy: int
    entries: int
    exits: int
    events: tuple[ZoneEvent, ...] = ()
    dwell: tuple[tuple[int, float], ...] = ()  # (track_id, seconds inside) of current occupants


@dataclass(frozen=True, slots=True)
class LineTotals:
    """Running totals of one line counter."""

    key: str
    name: str
    count_in: int
    count_out: int
    rule_version: str


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What the engine produced for one frame; ``analysed`` is False for frames the sampler
    skipped (then every other field is empty)."""

    frame_index: int
    time: float
    analysed: bool
    tracks: tuple[Track, ...] = ()
    events: tuple[CrossingEvent, ...] = ()
    zones: tuple[ZoneState, ...] = ()
    detections: int = 0
    timings: dict[str, float] = field(default_factory=dict)
