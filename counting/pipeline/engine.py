"""The counting engine: sampler -> detector -> tracker -> line and zone counters, per camera."""

from __future__ import annotations

import logging
import time as _time
from collections import Counter
from collections.abc import Callable, Sequence

from counting.pipeline.counters import LineCounter, ZoneCounter
from counting.pipeline.detectors.base import Detector
from counting.pipeline.geometry import denormalise, polygon_contains
from counting.pipeline.sampler import FrameSampler
from counting.pipeline.specs import LineSpec, MaskSpec, ZoneSpec
from counting.pipeline.tracker import ByteTracker
from counting.pipeline.types import (
    CrossingEvent,
    Detections,
    Frame,
    FrameResult,
    LineTotals,
    Point,
    ZoneState,
)

logger = logging.getLogger(__name__)


class CountingEngine:
    """Turns frames of one camera into crossing events and zone states.

    One engine per camera: it owns the camera's tracker (stable ids) and counters. Rules can be
    replaced at any time with :meth:`update_rules`; the tracker keeps running and counters of
    unchanged rules (same key and same rule version) keep their state and totals.

    Masks (:class:`MaskSpec`) drop the detections whose foot point is inside them before
    tracking: a sign the detector takes for a person is never counted.

    ``process(frame)`` runs the whole chain on frames the sampler accepts and returns an empty
    ``FrameResult(analysed=False)`` for the others. ``process_detections`` skips the detector
    (used when detections are batched elsewhere, and by the evaluation).
    """

    def __init__(
        self,
        detector: Detector | None,
        lines: Sequence[LineSpec] = (),
        zones: Sequence[ZoneSpec] = (),
        detect_fps: float | None = None,
        tracker_factory: Callable[[], ByteTracker] | None = None,
        masks: Sequence[MaskSpec] = (),
    ) -> None:
        self.detector = detector
        self.sampler = FrameSampler(detect_fps)
        self._tracker_factory = tracker_factory or self._default_tracker(detector)
        self.tracker = self._tracker_factory()
        self._lines: dict[str, LineCounter] = {}
        self._zones: dict[str, ZoneCounter] = {}
        self._masks: tuple[MaskSpec, ...] = ()
        self._mask_pixels: tuple[tuple[int, int], list[list[Point]]] | None = None
        self.rule_set_version = 0
        self.update_rules(lines=lines, zones=zones, masks=masks)

    @staticmethod
    def _default_tracker(detector: Detector | None) -> Callable[[], ByteTracker]:
        low = detector.score_threshold if detector is not None else 0.1
        return lambda: ByteTracker(low_score=min(low, 0.5))

    # -- rules ---------------------------------------------------------------------------
    def update_rules(
        self,
        lines: Sequence[LineSpec] | None = None,
        zones: Sequence[ZoneSpec] | None = None,
        masks: Sequence[MaskSpec] | None = None,
    ) -> None:
        """Replace the lines, zones and/or masks (None keeps the current ones).

        Repeated keys raise ValueError before anything changes."""
        if lines is not None:
            _require_unique_keys("line", [spec.key for spec in lines])
        if zones is not None:
            _require_unique_keys("zone", [spec.key for spec in zones])
        if masks is not None:
            _require_unique_keys("mask", [spec.key for spec in masks])
            self._masks, self._mask_pixels = tuple(masks), None
        if lines is not None:
            new_lines: dict[str, LineCounter] = {}
            for spec in lines:
                old = self._lines.get(spec.key)
                if old is not None and old.rule_version == spec.rule_version:
                    old.spec = spec  # same geometry and parameters; the name may have changed
                    new_lines[spec.key] = old
                else:
                    new_lines[spec.key] = LineCounter(spec)
            self._lines = new_lines
        if zones is not None:
            new_zones: dict[str, ZoneCounter] = {}
            for zspec in zones:
                zold = self._zones.get(zspec.key)
                if zold is not None and zold.rule_version == zspec.rule_version:
                    zold.spec = zspec
                    new_zones[zspec.key] = zold
                else:
                    new_zones[zspec.key] = ZoneCounter(zspec)
            self._zones = new_zones
        self.rule_set_version += 1

    @property
    def lines(self) -> list[LineCounter]:
        """Current line counters."""
        return list(self._lines.values())

    @property
    def masks(self) -> tuple[MaskSpec, ...]:
        """Current masks."""
        return self._masks

    @property
    def zones(self) -> list[ZoneCounter]:
        """Current zone counters."""
        return list(self._zones.values())

    def totals(self) -> list[LineTotals]:
        """Running in/out totals per line since the counter was created."""
        return [
            LineTotals(c.spec.key, c.spec.name, c.count_in, c.count_out, c.rule_version)
            for c in self._lines.values()
        ]

    # -- frames --------------------------------------------------------------------------
    def process(self, frame: Frame) -> FrameResult:
        """Analyse the frame if the sampler accepts it."""
        if not self.sampler.accept(frame.time):
            return FrameResult(frame_index=frame.index, time=frame.time, analysed=False)
        return self.process_batch([frame])[0]

    def process_batch(self, frames: Sequence[Frame]) -> list[FrameResult]:
        """Analyse already-sampled frames (in time order) with one detector call."""
        if self.detector is None:
            raise RuntimeError("this engine has no detector; use process_detections")
        started = _time.perf_counter()
        detections = self.detector.detect([f.image for f in frames])
        per_frame = (_time.perf_counter() - started) / max(1, len(frames))
        results = []
        for frame, dets in zip(frames, detections, strict=True):
            result = self.process_detections(frame.index, frame.time, frame.size, dets)
            result.timings["detect_s"] = per_frame
            results.append(result)
        return results

    def process_detections(
        self, frame_index: int, time: float, size: tuple[int, int], detections: Detections
    ) -> FrameResult:
        """Track and count one frame's detections (no sampling)."""
        t0 = _time.perf_counter()
        detections = self._unmasked(detections, size)
        tracks = self.tracker.update(detections, time)
        t1 = _time.perf_counter()
        events: list[CrossingEvent] = []
        for counter in self._lines.values():
            events.extend(counter.update(tracks, time, frame_index, size))
        zones: list[ZoneState] = [
            zc.update(tracks, time, frame_index, size) for zc in self._zones.values()
        ]
        t2 = _time.perf_counter()
        return FrameResult(
            frame_index=frame_index,
            time=time,
            analysed=True,
            tracks=tuple(tracks),
            events=tuple(events),
            zones=tuple(zones),
            detections=len(detections),
            timings={"track_s": t1 - t0, "count_s": t2 - t1},
        )

    def _unmasked(self, detections: Detections, size: tuple[int, int]) -> Detections:
        """The detections whose foot point is outside every mask."""
        if not self._masks or len(detections) == 0:
            return detections
        if self._mask_pixels is None or self._mask_pixels[0] != size:
            w, h = size
            polygons = [[denormalise(p, w, h) for p in m.points] for m in self._masks]
            self._mask_pixels = (size, polygons)
        polygons = self._mask_pixels[1]
        xyxy = detections.xyxy
        keep = [
            not any(
                polygon_contains(poly, ((float(x1) + float(x2)) / 2, float(y2)))
                for poly in polygons
            )
            for x1, _, x2, y2 in xyxy
        ]
        if all(keep):
            return detections
        return Detections(xyxy[keep], detections.scores[keep])

    def finish(self) -> list[CrossingEvent]:
        """End of a finite source: count crossings that were pending confirmation."""
        events: list[CrossingEvent] = []
        for counter in self._lines.values():
            events.extend(counter.finish())
        return events


def _require_unique_keys(kind: str, keys: list[str]) -> None:
    repeated = sorted(key for key, n in Counter(keys).items() if n > 1)
    if repeated:
        raise ValueError(f"{kind} keys must be unique; repeated: {', '.join(repeated)}")
