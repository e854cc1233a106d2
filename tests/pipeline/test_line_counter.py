"""Golden tests for line counting with synthetic tracks (no model).

Frames are 100 x 100 px, so normalised 0.5 is pixel 50; the default hysteresis band is
+-2 px (0.02 of the shorter side) and a crossing needs 2 observations beyond the band.
Tracks are given by their anchor (bottom-centre) per frame at 10 fps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from counting.pipeline.counters import LineCounter
from counting.pipeline.specs import LineSpec
from counting.pipeline.types import CrossingEvent, Track

SIZE = (100, 100)
# Vertical line top -> bottom at x=50: its left is x > 50, its right x < 50 (y points down),
# so "in" is moving leftwards.
VERTICAL = LineSpec(key="v", name="v", start=(0.5, 0.0), end=(0.5, 1.0))
# Horizontal line left -> right at y=50: its left is above (y < 50), "in" is moving down.
HORIZONTAL = LineSpec(key="h", name="h", start=(0.0, 0.5), end=(1.0, 0.5))
# A short segment x 40..60 at y=50.
SHORT = LineSpec(key="s", name="s", start=(0.4, 0.5), end=(0.6, 0.5))

Frames = Sequence[dict[int, tuple[float, float]]]


def box_at(
    x: float, y: float, w: float = 10.0, h: float = 30.0
) -> tuple[float, float, float, float]:
    """A box whose bottom-centre is (x, y)."""
    return (x - w / 2, y - h, x + w / 2, y)


def run(
    spec: LineSpec, frames: Frames, box_w: float = 10.0, box_h: float = 30.0, fps: float = 10.0
) -> tuple[int, int, list[CrossingEvent]]:
    """Feed frames of {track_id: anchor} to a counter, then end the stream."""
    counter = LineCounter(spec)
    events: list[CrossingEvent] = []
    for i, tracks in enumerate(frames):
        batch = [Track(tid, box_at(x, y, box_w, box_h), 0.9) for tid, (x, y) in tracks.items()]
        events.extend(counter.update(batch, i / fps, i, SIZE))
    events.extend(counter.finish())
    return counter.count_in, counter.count_out, events


def path(tid: int, points: Sequence[tuple[float, float]]) -> list[dict[int, tuple[float, float]]]:
    """One track following ``points``, one per frame."""
    return [{tid: p} for p in points]


def xs(*values: float, y: float = 50.0) -> list[tuple[float, float]]:
    """Points moving along x at height y."""
    return [(v, y) for v in values]


def ys(*values: float, x: float = 50.0) -> list[tuple[float, float]]:
    """Points moving along y at abscissa x."""
    return [(x, v) for v in values]


def merge(*tracks: list[dict[int, tuple[float, float]]]) -> list[dict[int, tuple[float, float]]]:
    """Play several tracks in the same frames (frame i has every track's i-th point)."""
    n = max(len(t) for t in tracks)
    out: list[dict[int, tuple[float, float]]] = [{} for _ in range(n)]
    for t in tracks:
        for i, f in enumerate(t):
            out[i].update(f)
    return out


CASES = [
    # A walk from the line's left (x > 50) to its right (x < 50) is one "in".
    ("walk_in", VERTICAL, path(1, xs(70, 60, 54, 46, 40, 30)), (1, 0)),
    # The same walk backwards is one "out".
    ("walk_out", VERTICAL, path(1, xs(30, 40, 46, 54, 60, 70)), (0, 1)),
    # Downwards across a left-to-right line is "in".
    ("down_is_in", HORIZONTAL, path(1, ys(20, 40, 60, 80)), (1, 0)),
    # A box jittering on the line within the band counts nothing.
    ("flicker_in_band", VERTICAL, path(1, xs(70, 60, 51, 49, 51, 49, 50.5, 49.5, 60, 70)), (0, 0)),
    # A one-frame jump across the band and back is noise, not two crossings.
    ("one_frame_excursion", VERTICAL, path(1, xs(70, 60, 55, 45, 55, 60, 70)), (0, 0)),
    # Lingering on the line for many frames, then continuing, counts once.
    ("linger_then_cross", VERTICAL, path(1, xs(70, 60, *[50.0, 51, 49] * 10, 40, 30)), (1, 0)),
    # Two one-frame excursions past the band with the band between them are not two
    # observations in a row: someone walking along the line counts nothing (the diagonal on PETS
    # at 480: 7.4 px, 7.0 px, then 7.2 px past a 7.2 px band, eight frames later).
    (
        "excursions_not_in_a_row",
        VERTICAL,
        path(1, xs(70, 60, 55, 47.5, 48.5, 49, 48.5, 47.5, 49, 55, 60, 70)),
        (0, 0),
    ),
    # The same two observations in a row are a crossing (and its return is another).
    (
        "excursions_in_a_row",
        VERTICAL,
        path(1, xs(70, 60, 55, 47.5, 47.5, 49, 55, 60, 70)),
        (1, 1),
    ),
    # Lingering on the line, then going back where it came from, counts nothing.
    ("linger_then_return", VERTICAL, path(1, xs(70, 60, *[50.0] * 20, 60, 70)), (0, 0)),
    # A real crossing and a real return count one each.
    ("real_recrossing", VERTICAL, path(1, xs(70, 60, 40, 30, 30, 40, 60, 70)), (1, 1)),
    # Two people crossing in opposite directions in the same frames.
    (
        "simultaneous_both_ways",
        VERTICAL,
        merge(path(1, xs(70, 60, 40, 30, y=20)), path(2, xs(30, 40, 60, 70, y=80))),
        (1, 1),
    ),
    # Two people crossing the same way side by side count two.
    (
        "simultaneous_same_way",
        VERTICAL,
        merge(path(1, xs(70, 60, 40, 30, y=20)), path(2, xs(72, 62, 42, 32, y=80))),
        (2, 0),
    ),
    # A line 2 px from the frame edge: the track crosses and leaves the frame after one frame
    # beyond the band; the pending crossing is counted when the track ends.
    (
        "line_near_edge",
        LineSpec(key="e", name="e", start=(0.97, 0.0), end=(0.97, 1.0)),
        path(1, xs(80, 90, 95, 99.5)),
        (0, 1),
    ),
    # A box much larger than a short segment: the anchor crossing the segment counts.
    ("box_larger_than_line", SHORT, path(1, ys(30, 40, 60, 70)), (1, 0)),
    # Passing beside the segment's end (x=70, the segment spans 40..60) counts nothing.
    ("beside_segment_end", SHORT, path(1, ys(30, 40, 60, 70, x=70)), (0, 0)),
    # Crossing the infinite line outside the segment, then back through it: the return is real.
    (
        "around_then_through",
        SHORT,
        path(1, [(70, 30), (70, 40), (70, 60), (70, 70), (50, 70), (50, 60), (50, 40), (50, 30)]),
        (0, 1),
    ),
    # Negative track ids are rejected.
    ("negative_id", VERTICAL, path(-1, xs(70, 60, 40, 30)), (0, 0)),
    # A track that starts on the line only gets a side once it leaves the band.
    ("born_on_line", VERTICAL, path(1, xs(50, 50, 40, 30)), (0, 0)),
]


@pytest.mark.parametrize(
    ("spec", "frames", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_line_counting_golden(spec: LineSpec, frames: Frames, expected: tuple[int, int]) -> None:
    # given a line and synthetic tracks
    # when they are counted
    count_in, count_out, events = run(spec, frames)
    # then the counts are exactly the expected ones, and every event is consistent
    assert (count_in, count_out) == expected
    assert len(events) == count_in + count_out
    assert all(e.line_key == spec.key and e.rule_version == spec.rule_version for e in events)


def test_id_switch_at_the_line_counts_once() -> None:
    # given a person who approaches the line as track 1, is lost in the band, and continues
    # as track 2 (an id switch at the line)
    frames = path(1, xs(80, 70, 60, 52)) + path(2, xs(47, 40, 30, 20))
    # when counted
    count_in, count_out, events = run(VERTICAL, frames)
    # then the crossing is counted exactly once, for the new id
    assert (count_in, count_out) == (1, 0)
    assert [e.track_id for e in events] == [2]


def test_id_switch_after_the_crossing_is_not_counted_again() -> None:
    # given track 1 crossing fully, then switching id to track 2 right after the line
    frames = path(1, xs(80, 70, 60, 45, 40)) + path(2, xs(38, 30, 20))
    # when counted
    count_in, count_out, _ = run(VERTICAL, frames)
    # then one crossing only
    assert (count_in, count_out) == (1, 0)


def test_reused_id_much_later_does_not_inherit_stale_side() -> None:
    # given track 7 seen on the left, vanishing for longer than the track TTL (6 s), then
    # the id reused for someone first seen on the right side
    frames = path(7, xs(80, 70)) + [{}] * 80 + path(7, xs(30, 20))
    # when counted
    count_in, count_out, _ = run(VERTICAL, frames)
    # then no crossing is invented from the stale state
    assert (count_in, count_out) == (0, 0)


@pytest.mark.parametrize(
    "bad_id",
    [
        -1,  # negative: trackers use it for unconfirmed tracks
        float("nan"),  # NaN from a float array
        1.0,  # floats are not ids
        True,  # bools are ints in Python, but never ids
    ],
)
def test_invalid_track_ids_count_nothing(bad_id: object) -> None:
    # given a crossing path carried by an invalid id
    counter = LineCounter(VERTICAL)
    # when counted
    for i, x in enumerate((70.0, 60.0, 40.0, 30.0)):
        counter.update([Track(bad_id, box_at(x, 50), 0.9)], i / 10, i, SIZE)  # type: ignore[arg-type]
    counter.finish()
    # then nothing counts and no state is kept
    assert (counter.count_in, counter.count_out, counter.tracked) == (0, 0, 0)


def test_non_finite_boxes_are_ignored() -> None:
    # given a track whose box becomes NaN mid-way
    counter = LineCounter(VERTICAL)
    points = [70.0, 60.0, math.nan, 40.0, 30.0]
    # when counted
    for i, x in enumerate(points):
        counter.update([Track(1, box_at(x, 50), 0.9)], i / 10, i, SIZE)
    # then the NaN frame is skipped and the crossing still counts once
    assert (counter.count_in, counter.count_out) == (1, 0)


def test_duplicate_id_in_one_frame_uses_the_first_box() -> None:
    # given two boxes with the same id in every frame, one crossing and one standing still
    counter = LineCounter(VERTICAL)
    for i, x in enumerate((70.0, 60.0, 40.0, 30.0)):
        counter.update(
            [Track(1, box_at(x, 50), 0.9), Track(1, box_at(90, 50), 0.9)], i / 10, i, SIZE
        )
    # then the first box of the id is used and counted once
    assert (counter.count_in, counter.count_out) == (1, 0)


def test_event_fields() -> None:
    # given a crossing
    _, _, events = run(VERTICAL, path(3, xs(70, 60, 40, 30)))
    # then the event carries the line, track, direction, frame time and index of the first
    # observation beyond the band, and the crossing point on the line
    (event,) = events
    assert (event.line_key, event.line_name, event.track_id, event.direction) == ("v", "v", 3, "in")
    assert (event.frame_index, event.time) == (2, 0.2)
    assert event.point == pytest.approx((50.0, 50.0))
    assert event.score == pytest.approx(0.9)


def test_group_split_counts_the_hidden_person() -> None:
    # given two people walking together detected as one box (track 1) that crosses, then a
    # second track emerging from that box just after the line
    frames = path(1, xs(80, 70, 60, 40, 35, 30))
    frames[4][2] = (33.0, 50.0)
    frames[5][2] = (31.0, 50.0)
    # when counted
    count_in, count_out, events = run(VERTICAL, frames)
    # then both crossed
    assert (count_in, count_out) == (2, 0)
    assert sorted(e.track_id for e in events) == [1, 2]


def test_group_split_explained_by_a_lost_bystander_counts_once() -> None:
    # given a walker (track 1) crossing the line while a bystander (track 5) stands past it;
    # the bystander's track is lost while the two are one box, then the box separates and a
    # new track (2) emerges from it
    walker = path(1, xs(80, 70, 60, 40, 35, 33, 33, 33))
    bystander = path(5, xs(30, 30, 30))
    frames = merge(walker, bystander)
    frames[6][2] = (28.0, 50.0)
    frames[7][2] = (26.0, 50.0)
    # when counted
    count_in, count_out, events = run(VERTICAL, frames)
    # then only the walker crossed: the new track is the bystander found again
    assert (count_in, count_out) == (1, 0)
    assert [e.track_id for e in events] == [1]


def test_rule_version_is_stable_and_geometry_sensitive() -> None:
    # given equal and different specs
    a = LineSpec(key="k", name="door", start=(0.1, 0.2), end=(0.3, 0.4))
    b = LineSpec(key="k", name="renamed", start=(0.1, 0.2), end=(0.3, 0.4))
    c = LineSpec(key="k", name="door", start=(0.1, 0.2), end=(0.3, 0.41))
    # then the version is a 12-hex string that ignores the name and follows the geometry
    assert a.rule_version == b.rule_version
    assert a.rule_version != c.rule_version
    assert len(a.rule_version) == 12 and int(a.rule_version, 16) >= 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # the same point twice is not a segment
        ({"start": (0.5, 0.5), "end": (0.5, 0.5)}, "same point"),
        # pixel coordinates instead of normalised ones
        ({"start": (0.0, 0.0), "end": (240.0, 1.0)}, "within 0..1"),
        # NaN coordinates
        ({"start": (math.nan, 0.0), "end": (1.0, 1.0)}, "finite"),
        # an unknown anchor
        ({"start": (0.0, 0.0), "end": (1.0, 1.0), "anchor": "feet"}, "anchor"),
        # a zero confirmation
        ({"start": (0.0, 0.0), "end": (1.0, 1.0), "confirm_frames": 0}, "confirm_frames"),
    ],
)
def test_invalid_line_specs_are_rejected(kwargs: dict[str, object], message: str) -> None:
    # when a spec is invalid then a ValueError says what is wrong
    with pytest.raises(ValueError, match=message):
        LineSpec(key="k", name="n", **kwargs)  # type: ignore[arg-type]


def test_hand_off_replays_the_tentative_box() -> None:
    # given a person who steps 4-5 px past the line and back, seen first as track 1 and then,
    # after an id switch at the line, as track 2 whose tentative box was already past it
    # (one analysed frame was skipped, as at a low detect_fps)
    one_track = path(1, xs(80, 70, 60, 55, 46, 45, 55, 65, 75))
    counter = LineCounter(VERTICAL)
    feed: list[list[Track]] = [[Track(1, box_at(x, y), 0.9)] for x, y in xs(80, 70, 60, 55)]
    feed.append([])  # track 2 is tentative here (tentative tracks are not reported)
    feed.append([Track(2, box_at(45, 50), 0.9, prior=(box_at(46, 50),))])
    feed += [[Track(2, box_at(x, y), 0.9)] for x, y in xs(55, 65, 75)]
    for i, tracks in enumerate(feed):
        counter.update(tracks, i / 10, i, SIZE)
    counter.finish()
    # then it counts as the same walk seen as one track does: in, then out
    assert run(VERTICAL, one_track)[:2] == (1, 1)
    assert (counter.count_in, counter.count_out) == (1, 1)
