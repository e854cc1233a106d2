"""A ByteTrack-style multi-object tracker with stable per-camera ids.

One :class:`ByteTracker` instance per camera. Ids are allocated by the instance (never a class
counter: one process serves many cameras) and never reused. Memory is bounded: a lost track is
dropped for good after ``max_lost_s`` seconds and removed tracks are not remembered (the
reference implementation keeps an ever-growing ``removed_stracks`` list).

Association per frame (Zhang et al., ByteTrack, ECCV 2022):

1. Kalman-predict every active and lost track to the frame's time (``motion_fps`` sets the
   step the motion noise constants refer to; at that rate each frame is one step).
2. High-score detections <-> active + lost tracks, Hungarian on IoU (times detection score)
   plus a direction-consistency term (OC-SORT's "observation-centric momentum", Cao et al.,
   CVPR 2023): a detection that continues a track's recent direction of travel is preferred
   over one that would turn it around. When two people's boxes overlap, IoU can be nearly
   the same for both pairings and may hand each the other's id, which can lose both of
   their line crossings. Unlike OC-SORT, the step to a detection is taken from the track's
   newest observation (fewer count errors on PETS than from the one ``direction_span`` back).
3. Low-score detections <-> still unmatched *active* tracks, stricter IoU (recovers people who
   are partly occluded and whose score drops).
4. Remaining high-score detections <-> tentative tracks; unmatched tentative tracks die.
5. Unmatched high-score detections above ``new_track_score`` start tentative tracks, confirmed
   after ``min_hits`` consecutive matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from counting.pipeline.types import Detections, Track

F64 = npt.NDArray[np.float64]

_STD_POS = 1.0 / 20.0
_STD_VEL = 1.0 / 160.0
_DIAG = np.diag_indices(8)


def iou_matrix(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> F64:
    """Pairwise IoU of xyxy boxes, shape (len(a), len(b))."""
    a64 = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b64 = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a64) == 0 or len(b64) == 0:
        return np.zeros((len(a64), len(b64)), np.float64)
    lt = np.maximum(a64[:, None, :2], b64[None, :, :2])
    rb = np.minimum(a64[:, None, 2:], b64[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.prod(np.clip(a64[:, 2:] - a64[:, :2], 0.0, None), axis=1)
    area_b = np.prod(np.clip(b64[:, 2:] - b64[:, :2], 0.0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    out: F64 = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
    return out


def _centre(box: F64) -> tuple[float, float]:
    return (float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2)


def direction_agreement(tracks: list[_Tracklet], boxes: F64) -> F64:
    """How well each detection continues each track's direction of travel, (tracks, boxes).

    ``(pi/2 - angle) / pi`` between the track's direction (its oldest to its newest recent
    centre) and the step from its newest centre to the detection's centre: +0.5 straight
    ahead, 0 sideways, -0.5 straight back. 0 for a track without a direction yet (one
    observation, or standing still) and for a detection on its last centre.
    """
    out: F64 = np.zeros((len(tracks), len(boxes)), np.float64)
    rows = [i for i, t in enumerate(tracks) if len(t.recent) >= 2]
    if not rows or len(boxes) == 0:
        return out
    newest = np.array([tracks[i].recent[-1] for i in rows], np.float64)
    heading = newest - np.array([tracks[i].recent[0] for i in rows], np.float64)
    centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
    step = centres[None, :, :] - newest[:, None, :]
    dot = np.einsum("tbk,tk->tb", step, heading)
    norms = np.linalg.norm(step, axis=2) * np.linalg.norm(heading, axis=1)[:, None]
    cos = np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 1e-9)
    agree = (np.pi / 2 - np.arccos(np.clip(cos, -1.0, 1.0))) / np.pi
    out[rows] = np.where(norms > 1e-9, agree, 0.0)
    return out


def _box_tuple(box: F64) -> tuple[float, float, float, float]:
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


class _KalmanBox:
    """Constant-velocity Kalman filter on (cx, cy, w, h); noise scales with box size.

    The state advances by frame *time*, in steps of ``1/steps_per_second``: frames analysed at
    irregular intervals (a sampler at 5 fps on a 7 fps stream, a live reader that drops frames
    while analysis is busy) are predicted as far as the walker really moved. ByteTrack's noise
    constants are per step, so a step's process noise is scaled by the number of steps.
    """

    _H = np.eye(4, 8)

    def __init__(self, xyxy: F64, time: float) -> None:
        z = self._to_z(xyxy)
        self.time = time  # frame time the state refers to
        self.mean: F64 = np.concatenate([z, np.zeros(4)])
        s = np.array([2 * _STD_POS * z[3]] * 4 + [10 * _STD_VEL * z[3]] * 4)
        self.cov: F64 = np.diag(np.square(s))

    @staticmethod
    def _to_z(xyxy: F64) -> F64:
        x1, y1, x2, y2 = xyxy
        return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0), max(y2 - y1, 1.0)])

    def predict(self, time: float, steps_per_second: float) -> None:
        """Advance the state to ``time``; velocities are per step of ``1/steps_per_second``."""
        steps = (time - self.time) * steps_per_second
        if not steps > 0:  # same or earlier frame time (or NaN): nothing to advance
            if time < self.time:
                self.time = time  # the clock stepped back: later frames count from here
            return
        self.time = time
        h = max(self.mean[3], 1.0)
        q = np.square(np.array([_STD_POS * h] * 4 + [_STD_VEL * h] * 4)) * steps
        # x' = F x and P' = F P F^T + Q with F = [[I, steps*I], [0, I]], written out in place.
        self.mean[:4] += steps * self.mean[4:]
        cov = self.cov
        cov[:4, :] += steps * cov[4:, :]
        cov[:, :4] += steps * cov[:, 4:]
        cov[_DIAG] += q

    def update(self, xyxy: F64) -> None:
        z = self._to_z(xyxy)
        r = np.diag(np.square(np.array([_STD_POS * self.mean[3]] * 4)))
        s = self._H @ self.cov @ self._H.T + r
        k = np.linalg.solve(s, (self.cov @ self._H.T).T).T
        self.mean = self.mean + k @ (z - self._H @ self.mean)
        self.cov = self.cov - k @ self._H @ self.cov

    def xyxy(self) -> F64:
        cx, cy, w, h = self.mean[:4]
        w, h = max(w, 1.0), max(h, 1.0)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


@dataclass(slots=True)
class _Tracklet:
    """Mutable tracker-internal track."""

    kf: _KalmanBox
    score: float
    hits: int
    last_time: float
    track_id: int = -1  # -1 while tentative
    lost: bool = False
    prior: list[tuple[float, float, float, float]] | None = None  # tentative boxes
    # Observed box centres, oldest first, at most ``direction_span + 1`` of them.
    recent: list[tuple[float, float]] = field(default_factory=list)


class ByteTracker:
    """ByteTrack-style tracker (see the module docstring); one instance per camera."""

    def __init__(
        self,
        high_score: float = 0.5,
        low_score: float = 0.1,
        new_track_score: float = 0.5,
        match_iou: float = 0.2,
        low_match_iou: float = 0.5,
        tentative_match_iou: float = 0.3,
        min_hits: int = 2,
        max_lost_s: float = 3.0,
        max_tracks: int = 1000,
        motion_fps: float = 7.0,
        direction_weight: float = 0.2,
        direction_span: int = 3,
    ) -> None:
        if not motion_fps > 0:
            raise ValueError(f"motion_fps must be > 0, got {motion_fps}")
        if not direction_weight >= 0:
            raise ValueError(f"direction_weight must be >= 0, got {direction_weight}")
        if direction_span < 1:
            raise ValueError(f"direction_span must be >= 1, got {direction_span}")
        self.high_score = high_score
        self.low_score = low_score
        self.new_track_score = new_track_score
        self.match_iou = match_iou
        self.low_match_iou = low_match_iou
        self.tentative_match_iou = tentative_match_iou
        self.min_hits = min_hits
        self.max_lost_s = max_lost_s
        self.max_tracks = max_tracks
        self.motion_fps = motion_fps
        # Weight of the direction term against IoU x score, and how many observations back
        # a track's direction of travel is measured (OC-SORT's published 0.2 and 3).
        self.direction_weight = direction_weight
        self.direction_span = direction_span
        self._next_id = 1
        self._tracks: list[_Tracklet] = []
        self._frames = 0

    def __len__(self) -> int:
        """Number of tracklets held (active, lost and tentative); bounded."""
        return len(self._tracks)

    def reset(self) -> None:
        """Forget every track (ids keep increasing so none is reused)."""
        self._tracks.clear()

    def update(self, detections: Detections, time: float) -> list[Track]:
        """Associate one frame's detections; returns the confirmed tracks matched in it."""
        self._frames += 1
        boxes = np.asarray(detections.xyxy, np.float64)
        scores = np.asarray(detections.scores, np.float64)
        ok = np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & (scores >= self.low_score)
        ok &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores = boxes[ok], scores[ok]
        high = np.flatnonzero(scores >= self.high_score)
        low = np.flatnonzero(scores < self.high_score)

        for t in self._tracks:
            t.kf.predict(time, self.motion_fps)
        confirmed = [t for t in self._tracks if t.track_id >= 0]
        tentative = [t for t in self._tracks if t.track_id < 0]
        matched: list[_Tracklet] = []

        # 1) high-score detections <-> confirmed (active and lost) tracks
        pairs, rest_t, rest_high = self._associate(
            confirmed, boxes[high], scores[high], self.match_iou, fuse_score=True, directed=True
        )
        for ti, di in pairs:
            self._apply(confirmed[ti], boxes[high[di]], scores[high[di]], time)
            matched.append(confirmed[ti])
        # 2) low-score detections <-> unmatched active tracks (not lost ones)
        active_rest = [confirmed[i] for i in rest_t if not confirmed[i].lost]
        pairs, _, _ = self._associate(
            active_rest, boxes[low], scores[low], self.low_match_iou, fuse_score=False
        )
        for ti, di in pairs:
            self._apply(active_rest[ti], boxes[low[di]], scores[low[di]], time)
            matched.append(active_rest[ti])
        # 3) remaining high-score detections <-> tentative tracks
        high_rest = high[rest_high]
        pairs, _, rest_new = self._associate(
            tentative, boxes[high_rest], scores[high_rest], self.tentative_match_iou, True
        )
        for ti, di in pairs:
            t = tentative[ti]
            if t.prior is not None and len(t.prior) < self.min_hits:
                t.prior.append(_box_tuple(t.kf.xyxy()))
            self._apply(t, boxes[high_rest[di]], scores[high_rest[di]], time)
            if t.hits >= self.min_hits:
                t.track_id = self._allocate()
            matched.append(t)

        matched_ids = {id(t) for t in matched}
        survivors: list[_Tracklet] = []
        for t in self._tracks:
            if id(t) in matched_ids:
                survivors.append(t)
            elif t.track_id >= 0 and time - t.last_time <= self.max_lost_s:
                t.lost = True
                survivors.append(t)
            # tentative tracks die on their first miss; lost tracks expire
        # 5) new tentative tracks; the very first frame confirms at once (nothing to confuse)
        for di in rest_new:
            j = high_rest[di]
            if scores[j] < self.new_track_score:
                continue
            t = _Tracklet(_KalmanBox(boxes[j], time), float(scores[j]), 1, time, prior=[])
            t.recent.append(_centre(boxes[j]))
            if self._frames == 1 or self.min_hits <= 1:
                t.track_id = self._allocate()
                matched.append(t)
            survivors.append(t)
        if len(survivors) > self.max_tracks:
            # Keep the freshest; pathological detector output must not grow memory.
            survivors.sort(key=lambda t: t.last_time, reverse=True)
            survivors = survivors[: self.max_tracks]
        self._tracks = survivors

        out: list[Track] = []
        for t in matched:
            if t.track_id < 0:
                continue
            prior: tuple[tuple[float, float, float, float], ...] = ()
            if t.prior is not None:
                prior, t.prior = tuple(t.prior), None  # reported once, then dropped
            out.append(Track(t.track_id, _box_tuple(t.kf.xyxy()), t.score, prior))
        out.sort(key=lambda tr: tr.track_id)
        return out

    def _allocate(self) -> int:
        tid = self._next_id
        self._next_id += 1
        return tid

    def _apply(self, t: _Tracklet, box: F64, score: float, time: float) -> None:
        t.kf.update(box)
        t.recent.append(_centre(box))
        del t.recent[: -(self.direction_span + 1)]
        t.score = float(score)
        t.hits = t.hits + 1 if not t.lost else 1
        t.last_time = time
        t.lost = False

    def _associate(
        self,
        tracks: list[_Tracklet],
        boxes: F64,
        scores: F64,
        min_iou: float,
        fuse_score: bool,
        directed: bool = False,
    ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        if not tracks or len(boxes) == 0:
            return [], list(range(len(tracks))), list(range(len(boxes)))
        predicted = np.stack([t.kf.xyxy() for t in tracks])
        iou = iou_matrix(predicted, boxes)
        sim = iou * scores[None, :] if fuse_score else iou
        if directed and self.direction_weight > 0:
            sim = sim + self.direction_weight * direction_agreement(tracks, boxes) * scores[None, :]
        rows, cols = linear_sum_assignment(-sim)
        pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou]
        used_t = {r for r, _ in pairs}
        used_d = {c for _, c in pairs}
        return (
            pairs,
            [i for i in range(len(tracks)) if i not in used_t],
            [j for j in range(len(boxes)) if j not in used_d],
        )
