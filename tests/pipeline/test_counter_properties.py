"""Property-based tests (hypothesis) for the line counter's invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from counting.pipeline.counters import LineCounter
from counting.pipeline.specs import LineSpec
from counting.pipeline.types import CrossingEvent, Track

SIZE = (100, 100)
# A full-height line at x=50 (no segment ends to pass beside); "in" is moving to x < 50.
LINE = LineSpec(key="v", name="v", start=(0.5, 0.0), end=(0.5, 1.0))

xs_strategy = st.lists(
    st.floats(min_value=0.0, max_value=100.0, allow_nan=False), min_size=1, max_size=60
)


def count(points: list[float], spec: LineSpec = LINE) -> list[CrossingEvent]:
    """Events for one track following x positions (y fixed)."""
    counter = LineCounter(spec)
    events: list[CrossingEvent] = []
    for i, x in enumerate(points):
        box = (x - 5.0, 20.0, x + 5.0, 50.0)
        events.extend(counter.update([Track(1, box, 0.9)], i / 10, i, SIZE))
    events.extend(counter.finish())
    return events


@settings(max_examples=300, deadline=None)
@given(xs_strategy)
def test_directions_alternate_per_track(points: list[float]) -> None:
    # given any path of one track
    # when counted
    directions = [e.direction for e in count(points)]
    # then in and out strictly alternate
    assert all(a != b for a, b in zip(directions, directions[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(xs_strategy, st.sampled_from([10.0, 90.0]))
def test_path_ending_where_it_started_is_balanced(points: list[float], side: float) -> None:
    # given a path that starts and ends clearly on the same side (held for a few frames)
    path = [side] * 3 + points + [side] * 3
    # when counted
    events = count(path)
    # then it went in as often as it went out
    ins = sum(e.direction == "in" for e in events)
    assert ins == len(events) - ins


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=8.0, allow_nan=False), min_size=2, max_size=40),
    st.booleans(),
)
def test_monotone_path_across_counts_exactly_once(steps: list[float], leftwards: bool) -> None:
    # given a monotone path from x=90 to x=10 (or back) with arbitrary step sizes
    xs = [90.0]
    for s in steps:
        xs.append(max(10.0, xs[-1] - s))
    xs.append(10.0)
    if not leftwards:
        xs = [100.0 - x for x in xs]
    # when counted
    events = count(xs)
    # then exactly one crossing, in the direction of travel
    assert [e.direction for e in events] == ["in" if leftwards else "out"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=48.0, max_value=52.0, allow_nan=False), max_size=60))
def test_jitter_inside_the_band_never_counts(points: list[float]) -> None:
    # given a track that starts on the left, then only jitters within +-2 px of the line
    # when counted
    events = count([90.0, 80.0, *points])
    # then nothing is counted
    assert events == []
