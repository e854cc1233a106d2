"""Line and zone counters: stateful, no I/O, fed with the confirmed tracks of each frame.

Line counting, per track (see :mod:`counting.pipeline.geometry` for sides)::

            LEFT                  band                 RIGHT
     ----------------------|<- h ->|<- h ->|----------------------
       committed = LEFT    |   no change   |  pending RIGHT -> after `confirm_frames`
                           |  (lingering,  |  observations: committed = RIGHT, one
                           |   flicker)    |  "in" event if the path met the segment

A track's *committed side* only changes when its anchor is beyond the hysteresis band on the
other side for ``confirm_frames`` consecutive observations. A crossing counts when the path from
the last point clearly on the old side to the first point clearly on the new side meets the
segment itself. So jitter inside the band never counts, a one-frame excursion never counts, a
real back-and-forth counts one "in" and one "out", and per track the directions alternate.

Memory stays bounded on streams that run for months: a track's state is dropped once it has not
been seen for ``track_ttl_s`` seconds (and the state map is capped at ``max_tracks``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from counting.pipeline.geometry import (
    crossing_parameter,
    denormalise,
    lerp,
    polygon_signed_distance,
    side_value,
)
from counting.pipeline.specs import LineSpec, ZoneSpec
from counting.pipeline.types import (
    CrossingEvent,
    Direction,
    Point,
    Track,
    ZoneEvent,
    ZoneState,
    box_anchor,
)

Box = tuple[float, float, float, float]

MAX_TRACKS = 4096


def valid_track_id(track_id: object) -> bool:
    """Ids must be non-negative integers (NaN, negatives, bools and floats are rejected)."""
    if isinstance(track_id, bool):
        return False
    if isinstance(track_id, int):
        return track_id >= 0
    # numpy integers
    if isinstance(track_id, np.integer):
        return int(track_id) >= 0
    return False


def _iou(a: Box, b: Box) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _finite(p: Point) -> bool:
    return math.isfinite(p[0]) and math.isfinite(p[1])


@dataclass(slots=True)
class _LineTrackState:
    """Mutable per-track line state (private to :class:`LineCounter`)."""

    side: int  # -1 left, +1 right, 0 not yet known
    last_clear: Point  # last anchor clearly on `side`
    last_point: Point
    last_seen: float
    last_frame: int
    score: float
    velocity: Point = (0.0, 0.0)  # px/s, smoothed; extrapolates a lost track for hand-off
    box: Box = (0.0, 0.0, 0.0, 0.0)  # latest box, for the group-split rule
    crossed_at: float | None = None  # time of the last counted crossing
    crossed_from: tuple[int, Point] | None = None  # (side, last clear point) before it
    pending_side: int = 0
    pending_count: int = 0
    pending_point: Point = (0.0, 0.0)
    pending_time: float = 0.0
    pending_frame: int = 0
    pending_score: float = 0.0


class LineCounter:
    """Counts crossings of one directed segment by tracks (see the module docstring)."""

    def __init__(self, spec: LineSpec, max_tracks: int = MAX_TRACKS) -> None:
        self.spec = spec
        self.rule_version = spec.rule_version
        self.count_in = 0
        self.count_out = 0
        self._max_tracks = max_tracks
        self._states: dict[int, _LineTrackState] = {}
        self._size: tuple[int, int] | None = None
        self._start: Point = (0.0, 0.0)
        self._end: Point = (0.0, 0.0)
        self._band = 0.0
        self._radius = 0.0

    def _set_size(self, size: tuple[int, int]) -> None:
        if size == self._size:
            return
        w, h = size
        self._size = size
        self._start = denormalise(self.spec.start, w, h)
        self._end = denormalise(self.spec.end, w, h)
        self._band = self.spec.hysteresis * min(w, h)
        self._radius = self.spec.handoff_radius * min(w, h)

    @property
    def tracked(self) -> int:
        """Number of track states held (bounded)."""
        return len(self._states)

    def update(
        self, tracks: Iterable[Track], time: float, frame_index: int, size: tuple[int, int]
    ) -> list[CrossingEvent]:
        """Feed the tracks of one analysed frame; returns the crossings counted in it."""
        self._set_size(size)
        events: list[CrossingEvent] = []
        seen: set[int] = set()
        new_ids: list[tuple[int, Point, float, tuple[Box, ...]]] = []
        boxes: dict[int, Box] = {}
        for track in tracks:
            tid = track.track_id
            if not valid_track_id(tid) or tid in seen:
                continue  # invalid or duplicated ids carry no trustworthy identity
            p = track.anchor(self.spec.anchor)
            if not _finite(p):
                continue
            seen.add(tid)
            boxes[tid] = track.xyxy
            state = self._states.get(tid)
            if state is not None and time - state.last_seen > self.spec.track_ttl_s:
                # A reused id after a long gap must not inherit stale side state.
                events.extend(self._flush(tid, state))
                state = None
            if state is None:
                new_ids.append((tid, p, track.score, track.prior))
                continue
            state.box = track.xyxy
            events.extend(self._observe(tid, state, p, time, frame_index, track.score))
        for tid, p, score, prior in new_ids:
            first_box = prior[0] if prior else boxes[tid]
            state = self._adopt(tid, p, seen, time) or self._split(first_box, seen, time)
            if state is None:
                # Seed the side from where the track was first seen while still tentative.
                first = box_anchor(first_box, self.spec.anchor)
                if not _finite(first):
                    first = p
                state = _LineTrackState(self._zone(first), first, first, time, frame_index, score)
                state.box = boxes[tid]
                self._states[tid] = state
                if first != p:
                    events.extend(self._observe(tid, state, p, time, frame_index, score))
            else:
                state.box = boxes[tid]
                self._states[tid] = state
                # The boxes seen while the track was tentative are observations of the same
                # person: replay them first, so a short excursion past the line seen at a low
                # analysis rate still reaches ``confirm_frames``.
                for box in prior:
                    q = box_anchor(box, self.spec.anchor)
                    if _finite(q) and q != p:
                        events.extend(self._observe(tid, state, q, time, frame_index, score))
                events.extend(self._observe(tid, state, p, time, frame_index, score))
        events.extend(self._prune(time))
        return events

    def _zone(self, p: Point) -> int:
        s = side_value(self._start, self._end, p)
        if s > self._band:
            return 1
        if s < -self._band:
            return -1
        return 0

    def _observe(
        self,
        tid: int,
        state: _LineTrackState,
        p: Point,
        time: float,
        frame_index: int,
        score: float,
    ) -> list[CrossingEvent]:
        zone = self._zone(p)
        dt = time - state.last_seen
        if dt > 0:
            vx = (p[0] - state.last_point[0]) / dt
            vy = (p[1] - state.last_point[1]) / dt
            state.velocity = (
                0.5 * state.velocity[0] + 0.5 * vx,
                0.5 * state.velocity[1] + 0.5 * vy,
            )
        state.last_point = p
        state.last_seen = max(state.last_seen, time)
        state.last_frame = frame_index
        state.score = score
        if zone == 0:
            # Inside the band: lingering or flicker. The side stays; a pending crossing needs
            # its ``confirm_frames`` observations beyond the band in a row, so it starts over.
            state.pending_side = state.pending_count = 0
            return []
        if state.side == 0:
            state.side, state.last_clear = zone, p
            return []
        if zone == state.side:
            state.last_clear = p
            state.pending_side = state.pending_count = 0
            return []
        if state.pending_side != zone:
            state.pending_side, state.pending_count = zone, 0
            state.pending_point, state.pending_time = p, time
            state.pending_frame, state.pending_score = frame_index, score
        state.pending_count += 1
        if state.pending_count < self.spec.confirm_frames:
            return []
        return self._commit(tid, state, p)

    def _commit(self, tid: int, state: _LineTrackState, p: Point) -> list[CrossingEvent]:
        old_side, new_side = state.side, state.pending_side
        a, b = state.last_clear, state.pending_point
        state.crossed_from = (old_side, a)
        state.side, state.last_clear = new_side, p
        state.pending_side = state.pending_count = 0
        t = crossing_parameter(self._start, self._end, a, b)
        if t is None or not (0.0 <= t <= 1.0):
            return []  # passed beside the segment: the side changes, nothing counts
        direction: Direction = "in" if old_side < 0 < new_side else "out"
        state.crossed_at = state.pending_time
        if direction == "in":
            self.count_in += 1
        else:
            self.count_out += 1
        return [
            CrossingEvent(
                line_key=self.spec.key,
                line_name=self.spec.name,
                track_id=tid,
                direction=direction,
                time=state.pending_time,
                frame_index=state.pending_frame,
                score=state.pending_score,
                rule_version=self.rule_version,
                point=lerp(self._start, self._end, t),
            )
        ]

    def _adopt(self, tid: int, p: Point, seen: set[int], time: float) -> _LineTrackState | None:
        """Hand-off after an id switch: inherit the state of a track lost near the line."""
        if self.spec.handoff_s <= 0 or self._radius <= 0:
            return None
        near_line = self._band + self._radius
        if abs(side_value(self._start, self._end, p)) > near_line:
            return None
        best: tuple[float, int] | None = None
        for other_id, st in self._states.items():
            if other_id in seen or st.side == 0 or time - st.last_seen > self.spec.handoff_s:
                continue
            if abs(side_value(self._start, self._end, st.last_point)) > near_line:
                continue
            # Compare with where the lost track would be now, not where it was last seen:
            # two people occluded at the same spot walking apart must not swap states.
            gap = min(time - st.last_seen, self.spec.handoff_s)
            ex = st.last_point[0] + st.velocity[0] * gap
            ey = st.last_point[1] + st.velocity[1] * gap
            d = math.hypot(p[0] - ex, p[1] - ey)
            if d <= self._radius and (best is None or d < best[0]):
                best = (d, other_id)
        if best is None:
            return None
        return self._states.pop(best[1])

    def _split(self, box: Box, seen: set[int], time: float) -> _LineTrackState | None:
        """Group split: a new track that emerges from the box of a track which has just
        crossed (two people walking together detected as one) crossed with it, so it starts
        from that track's side *before* the crossing and is counted once it is confirmed on
        the far side. A track the new one merely passes by has not crossed recently, and a
        crossing is at most inherited once per new track.

        Unless a track lost on the far side explains the second person: someone already past
        the line whose track was lost while the two were one box. Then the new track is that
        person found again and takes over their state, so nothing is counted twice (PETS,
        x=240: a walker who had just crossed merged with a person standing 5 px past the line,
        and the box split again 6 frames later)."""
        if self.spec.split_s <= 0:
            return None
        best: tuple[float, _LineTrackState] | None = None
        for other_id in seen:
            st = self._states.get(other_id)
            if st is None or st.crossed_at is None or st.crossed_from is None:
                continue
            if time - st.crossed_at > self.spec.split_s:
                continue
            overlap = _iou(box, st.box)
            if overlap >= self.spec.split_iou and (best is None or overlap > best[0]):
                best = (overlap, st)
        if best is None:
            return None
        parent = best[1]
        assert parent.crossed_from is not None
        bystander = self._lost_near(box_anchor(box, self.spec.anchor), parent.side, seen)
        if bystander is not None:
            return self._states.pop(bystander)
        side, clear = parent.crossed_from
        return _LineTrackState(side, clear, clear, time, parent.last_frame, parent.score)

    def _lost_near(self, p: Point, side: int, seen: set[int]) -> int | None:
        """The id of the nearest track not seen in this frame whose state is still held, that
        was last on ``side`` within the hand-off radius of ``p``, if any."""
        best: tuple[float, int] | None = None
        for other_id, st in self._states.items():
            if other_id in seen or st.side != side:
                continue
            d = math.hypot(p[0] - st.last_point[0], p[1] - st.last_point[1])
            if d <= self._radius and (best is None or d < best[0]):
                best = (d, other_id)
        return None if best is None else best[1]

    def _flush(self, tid: int, state: _LineTrackState) -> list[CrossingEvent]:
        """A track ends: a crossing it had started (beyond the band, not yet confirmed) counts."""
        self._states.pop(tid, None)
        if state.side != 0 and state.pending_side != 0:
            return self._commit(tid, state, state.pending_point)
        return []

    def _prune(self, time: float) -> list[CrossingEvent]:
        events: list[CrossingEvent] = []
        ttl = self.spec.track_ttl_s
        stale = [tid for tid, st in self._states.items() if time - st.last_seen > ttl]
        for tid in stale:
            events.extend(self._flush(tid, self._states[tid]))
        if len(self._states) > self._max_tracks:
            oldest = sorted(self._states, key=lambda k: self._states[k].last_seen)
            for tid in oldest[: len(self._states) - self._max_tracks]:
                events.extend(self._flush(tid, self._states[tid]))
        return events

    def finish(self) -> list[CrossingEvent]:
        """End of stream: flush tracks that crossed but were not yet confirmed."""
        events: list[CrossingEvent] = []
        for tid in list(self._states):
            events.extend(self._flush(tid, self._states[tid]))
        return events


@dataclass(slots=True)
class _ZoneTrackState:
    """Mutable per-track zone membership (private to :class:`ZoneCounter`)."""

    inside: bool | None
    entered_at: float
    last_seen: float
    last_point: Point = (0.0, 0.0)
    pending: int = 0  # +1 entering, -1 leaving, 0 none
    pending_count: int = 0
    pending_time: float = 0.0
    pending_frame: int = 0


class ZoneCounter:
    """Occupancy, entries, exits and dwell of one polygonal zone.

    A track first seen inside counts in the occupancy but is not an entry; entries and exits
    are confirmed transitions across the boundary band. A track lost while inside leaves the
    occupancy (and the dwell list) once unseen for ``presence_s``, without an ``"exit"`` event;
    its membership lasts until its state expires (``track_ttl_s``), so the same id found again
    is present once more, not a new entry.
    """

    def __init__(self, spec: ZoneSpec, max_tracks: int = MAX_TRACKS) -> None:
        self.spec = spec
        self.rule_version = spec.rule_version
        self.entries = 0
        self.exits = 0
        self.max_occupancy = 0
        self._max_tracks = max_tracks
        self._states: dict[int, _ZoneTrackState] = {}
        self._size: tuple[int, int] | None = None
        self._poly: list[Point] = []
        self._band = 0.0
        self._radius = 0.0
        self._now = -math.inf  # latest frame time fed

    def _set_size(self, size: tuple[int, int]) -> None:
        if size != self._size:
            w, h = size
            self._size = size
            self._poly = [denormalise(p, w, h) for p in self.spec.points]
            self._band = self.spec.hysteresis * min(w, h)
            self._radius = self.spec.handoff_radius * min(w, h)

    def _present(self, st: _ZoneTrackState) -> bool:
        return bool(st.inside) and self._now - st.last_seen <= self.spec.presence_s

    @property
    def occupancy(self) -> int:
        """Tracks inside and seen within the last ``presence_s``."""
        return sum(1 for st in self._states.values() if self._present(st))

    def update(
        self, tracks: Iterable[Track], time: float, frame_index: int, size: tuple[int, int]
    ) -> ZoneState:
        """Feed the tracks of one analysed frame; returns the zone state after it."""
        self._set_size(size)
        self._now = time
        events: list[ZoneEvent] = []
        seen: set[int] = set()
        new_ids: list[tuple[int, Point, int]] = []
        for track in tracks:
            tid = track.track_id
            if not valid_track_id(tid) or tid in seen:
                continue
            p = track.anchor(self.spec.anchor)
            if not _finite(p):
                continue
            seen.add(tid)
            d = polygon_signed_distance(self._poly, p)
            where = 1 if d > self._band else (-1 if d < -self._band else 0)
            st = self._states.get(tid)
            if st is not None and time - st.last_seen > self.spec.track_ttl_s:
                st = None
            if st is None:
                new_ids.append((tid, p, where))
                continue
            st.last_seen = max(st.last_seen, time)
            st.last_point = p
            if where == 0:
                continue
            if st.inside is None:
                st.inside, st.entered_at = where > 0, time
                continue
            if (where > 0) == st.inside:
                st.pending = st.pending_count = 0
                continue
            if st.pending != where:
                st.pending, st.pending_count = where, 0
                st.pending_time, st.pending_frame = time, frame_index
            st.pending_count += 1
            if st.pending_count >= self.spec.confirm_frames:
                events.append(self._transition(tid, st))
        for tid, p, where in new_ids:
            adopted = self._adopt(p, seen, time) if where >= 0 else None
            if adopted is None:
                self._states[tid] = _ZoneTrackState(
                    None if where == 0 else where > 0, time, time, p
                )
            else:
                adopted.last_seen, adopted.last_point = time, p
                self._states[tid] = adopted
        self._prune(time)
        occupancy = self.occupancy
        self.max_occupancy = max(self.max_occupancy, occupancy)
        dwell = tuple(
            (tid, max(0.0, time - st.entered_at))
            for tid, st in self._states.items()
            if self._present(st)
        )
        return ZoneState(
            key=self.spec.key,
            name=self.spec.name,
            occupancy=occupancy,
            entries=self.entries,
            exits=self.exits,
            events=tuple(events),
            dwell=dwell,
        )

    def _adopt(self, p: Point, seen: set[int], time: float) -> _ZoneTrackState | None:
        """Id switch inside the zone: a new id next to where an occupant was lost within
        ``presence_s`` takes over that occupant (its entry time, no new entry), so one person
        is not two occupants until the old id's presence runs out."""
        if self._radius <= 0:
            return None
        best: tuple[float, int] | None = None
        for other_id, st in self._states.items():
            if other_id in seen or not st.inside or st.pending:
                continue
            if time - st.last_seen > self.spec.presence_s:
                continue
            gap = math.hypot(p[0] - st.last_point[0], p[1] - st.last_point[1])
            if gap <= self._radius and (best is None or gap < best[0]):
                best = (gap, other_id)
        if best is None:
            return None
        return self._states.pop(best[1])

    def _transition(self, tid: int, st: _ZoneTrackState) -> ZoneEvent:
        entering = st.pending > 0
        dwell = 0.0 if entering else max(0.0, st.pending_time - st.entered_at)
        st.inside = entering
        if entering:
            st.entered_at = st.pending_time
            self.entries += 1
        else:
            self.exits += 1
        st.pending = st.pending_count = 0
        return ZoneEvent(
            zone_key=self.spec.key,
            zone_name=self.spec.name,
            track_id=tid,
            kind="enter" if entering else "exit",
            time=st.pending_time,
            frame_index=st.pending_frame,
            dwell=dwell,
            rule_version=self.rule_version,
        )

    def _prune(self, time: float) -> None:
        ttl = self.spec.track_ttl_s
        for tid in [t for t, st in self._states.items() if time - st.last_seen > ttl]:
            del self._states[tid]
        if len(self._states) > self._max_tracks:
            oldest = sorted(self._states, key=lambda k: self._states[k].last_seen)
            for tid in oldest[: len(self._states) - self._max_tracks]:
                del self._states[tid]
