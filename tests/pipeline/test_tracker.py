"""The ByteTrack-style tracker: id stability, per-instance ids, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from counting.pipeline.tracker import ByteTracker, iou_matrix
from counting.pipeline.types import Detections


def dets(*boxes: tuple[float, float, float, float], score: float = 0.9) -> Detections:
    arr = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections(arr, np.full(len(arr), score, np.float32))


def test_two_walkers_keep_their_ids() -> None:
    # given two people walking towards each other on separate rows for 40 frames
    tracker = ByteTracker()
    history: dict[int, list[float]] = {}
    # when tracked
    for i in range(40):
        a = (10.0 + 5 * i, 10.0, 30.0 + 5 * i, 60.0)
        b = (300.0 - 5 * i, 100.0, 320.0 - 5 * i, 150.0)
        for t in tracker.update(dets(a, b), i / 10):
            history.setdefault(t.track_id, []).append(t.xyxy[1])
    # then exactly two ids, each always on its own row
    assert sorted(history) == [1, 2]
    assert {round(y) for y in history[1]} == {10} and {round(y) for y in history[2]} == {100}


def test_id_survives_a_short_occlusion() -> None:
    # given a walker missing for 5 frames (0.5 s < max_lost_s)
    tracker = ByteTracker()
    ids = []
    for i in range(30):
        box = (10.0 + 4 * i, 10.0, 30.0 + 4 * i, 60.0)
        out = tracker.update(dets(box) if not 10 <= i < 15 else Detections.empty(), i / 10)
        ids += [t.track_id for t in out]
    # then the same id comes back
    assert set(ids) == {1}


def test_low_score_detections_extend_but_do_not_start_tracks() -> None:
    # given a tracked walker whose score drops to 0.2 for a while, and a lone low-score box
    tracker = ByteTracker(low_score=0.1)
    seen = []
    for i in range(20):
        box = (10.0 + 4 * i, 10.0, 30.0 + 4 * i, 60.0)
        score = 0.9 if i < 5 else 0.2
        d = Detections(
            np.asarray([box, (400, 400, 420, 450)], np.float32),
            np.asarray([score, 0.2], np.float32),
        )
        seen.append([t.track_id for t in tracker.update(d, i / 10)])
    # then the walker keeps id 1 throughout and the lone low box never becomes a track
    assert all(ids == [1] for ids in seen)


def test_ids_are_per_instance() -> None:
    # given two trackers (two cameras)
    a, b = ByteTracker(), ByteTracker()
    box = (0.0, 0.0, 10.0, 20.0)
    # then both start their ids at 1
    assert [t.track_id for t in a.update(dets(box), 0.0)] == [1]
    assert [t.track_id for t in b.update(dets(box), 0.0)] == [1]


def test_bounded_memory_under_churn() -> None:
    # given 3000 frames in which a new person appears every frame, walks for 3-8 frames
    # somewhere in a large image and leaves
    rng = np.random.default_rng(0)
    tracker = ByteTracker(max_lost_s=1.0)
    people: list[list[float]] = []  # [x, y, frames left]
    sizes = []
    for i in range(3000):
        people.append([*rng.uniform(0, 5000, 2), int(rng.integers(3, 9))])
        people = [[x + 2, y, n - 1] for x, y, n in people if n > 1]
        boxes = np.asarray([[x, y, x + 40, y + 100] for x, y, _ in people], np.float32)
        tracker.update(
            Detections(boxes.reshape(-1, 4), np.full(len(boxes), 0.9, np.float32)), i / 10
        )
        sizes.append(len(tracker))
    # then thousands of ids were used but the tracker only holds the last second's tracks
    assert tracker._next_id > 2500
    assert max(sizes) <= 30


def test_invalid_detections_are_ignored() -> None:
    # given NaN, inverted and zero-area boxes next to a good one
    tracker = ByteTracker()
    boxes = np.asarray(
        [[np.nan, 0, 10, 10], [10, 10, 5, 5], [0, 0, 0, 0], [0, 0, 10, 20]], np.float32
    )
    out = tracker.update(Detections(boxes, np.full(4, 0.9, np.float32)), 0.0)
    # then only the good one becomes a track
    assert [t.xyxy for t in out] == [pytest.approx((0.0, 0.0, 10.0, 20.0))]


def test_iou_matrix() -> None:
    a = np.asarray([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.asarray([[5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert iou_matrix(a, b) == pytest.approx(np.asarray([[50 / 150, 0.0], [0.0, 0.0]]))


def test_prediction_follows_frame_time_not_frame_count() -> None:
    # given a walker (15 px per 1/7 s, boxes 40 px wide) analysed at irregular intervals with
    # gaps of up to three frame times, as a live reader that keeps only the newest frame
    # delivers them when analysis falls behind
    tracker = ByteTracker(motion_fps=7.0)
    steps = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 14, 15, 18, 21, 22]
    ids = []
    for k in steps:
        box = (10.0 + 15 * k, 10.0, 50.0 + 15 * k, 90.0)
        ids += [t.track_id for t in tracker.update(dets(box), k / 7)]
    # then one id throughout: after a gap the prediction is as many steps ahead as time says,
    # where the walker is (one step per call would leave it 30 px behind, IoU 0.14 < 0.2)
    assert set(ids) == {1}
    assert len(ids) == len(steps)  # reported on every frame, never lost


def test_a_repeated_or_earlier_frame_time_does_not_move_tracks() -> None:
    # given a tracked walker
    tracker = ByteTracker()
    for i in range(5):
        tracker.update(dets((10.0 + 5 * i, 10.0, 30.0 + 5 * i, 60.0)), i / 10)
    # when the same box arrives again at the same time, then at an earlier time
    same = tracker.update(dets((30.0, 10.0, 50.0, 60.0)), 0.4)
    earlier = tracker.update(dets((30.0, 10.0, 50.0, 60.0)), 0.3)
    # then the walker keeps its id and its box (no prediction into the past)
    assert [t.track_id for t in same] == [1] and [t.track_id for t in earlier] == [1]
    assert abs(earlier[0].xyxy[0] - 30.0) < 1.0
    # and the walk goes on from the earlier time as if the clock had been set back
    later = tracker.update(dets((35.0, 10.0, 55.0, 60.0)), 0.4)
    assert [t.track_id for t in later] == [1]


@pytest.mark.parametrize("bad", [0.0, -7.0, float("nan")])
def test_motion_fps_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="motion_fps"):
        ByteTracker(motion_fps=bad)


def _walk_right_then_fork(direction_weight: float) -> float:
    """A walker heading right for 10 frames, then two candidate boxes: one a little behind
    its last position (slightly better IoU with the prediction), one ahead. Returns the
    walker's x1 after that frame."""
    tracker = ByteTracker(direction_weight=direction_weight)
    for i in range(10):
        tracker.update(dets((10.0 + 5 * i, 10.0, 30.0 + 5 * i, 60.0)), i / 7)
    behind = (54.0, 10.0, 74.0, 60.0)  # centre 64 < the last observed centre 65
    ahead = (66.5, 10.0, 86.5, 60.0)
    (walker,) = [t for t in tracker.update(dets(behind, ahead), 10 / 7) if t.track_id == 1]
    return walker.xyxy[0]


def test_direction_of_travel_breaks_a_near_tie_in_iou() -> None:
    # given two boxes about as close to a walker's predicted box (x1 = 60), one of which would
    # turn the walker around; when associated
    # then the walker continues forward with the direction term (the default)...
    assert _walk_right_then_fork(0.2) > 60.0
    # ...while IoU alone (ByteTrack) takes the box behind it
    assert _walk_right_then_fork(0.0) < 60.0


def test_direction_agreement_values() -> None:
    # given a track heading right (three observed centres) and a brand-new one
    from counting.pipeline.tracker import _KalmanBox, _Tracklet, direction_agreement

    heading = _Tracklet(_KalmanBox(np.array([0.0, 0, 10, 10]), 0.0), 0.9, 3, 0.0)
    heading.recent = [(0.0, 0.0), (5.0, 0.0), (10.0, 0.0)]
    fresh = _Tracklet(_KalmanBox(np.array([0.0, 0, 10, 10]), 0.0), 0.9, 1, 0.0)
    fresh.recent = [(5.0, 5.0)]
    # and boxes centred ahead, behind, beside and exactly on its last centre
    boxes = np.array([[15, -5, 25, 5], [-5, -5, 5, 5], [5, 15, 15, 25], [5, -5, 15, 5]], np.float64)
    # when scored
    agree = direction_agreement([heading, fresh], boxes)
    # then ahead +0.5, behind -0.5, sideways 0, on the spot 0; no direction yet: all 0
    np.testing.assert_allclose(agree[0], [0.5, -0.5, 0.0, 0.0], atol=1e-9)
    np.testing.assert_array_equal(agree[1], [0.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("kwargs", [{"direction_weight": -0.1}, {"direction_span": 0}])
def test_direction_parameters_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="direction_"):
        ByteTracker(**kwargs)  # type: ignore[arg-type]


def test_direction_memory_is_bounded() -> None:
    # given a walker tracked for 200 frames
    tracker = ByteTracker(direction_span=3)
    for i in range(200):
        tracker.update(dets((10.0 + i, 10.0, 30.0 + i, 60.0)), i / 7)
    # then each tracklet holds at most span + 1 recent centres
    assert tracker._tracks and all(len(t.recent) <= 4 for t in tracker._tracks)
