"""Zone counting: occupancy, entries, exits and dwell with synthetic tracks."""

from __future__ import annotations

import pytest

from counting.pipeline.counters import ZoneCounter
from counting.pipeline.specs import ZoneSpec
from counting.pipeline.types import Track, ZoneState

SIZE = (100, 100)
# The square 20..60 x 20..60 px; band +-1 px.
SQUARE = ZoneSpec(key="z", name="till", points=((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6)))


def box_at(x: float, y: float) -> tuple[float, float, float, float]:
    return (x - 5.0, y - 20.0, x + 5.0, y)


def run(
    frames: list[dict[int, tuple[float, float]]], fps: float = 10.0, spec: ZoneSpec = SQUARE
) -> tuple[ZoneCounter, list[ZoneState]]:
    zone = ZoneCounter(spec)
    states = [
        zone.update([Track(t, box_at(*p), 0.9) for t, p in f.items()], i / fps, i, SIZE)
        for i, f in enumerate(frames)
    ]
    return zone, states


CASES = [
    # walking through the zone: one entry, one exit
    (
        "through",
        [{1: (10, 40)}, {1: (15, 40)}, {1: (30, 40)}, {1: (40, 40)}, {1: (70, 40)}, {1: (80, 40)}],
        (1, 1, 1),
    ),
    # entering and staying
    ("enter_and_stay", [{1: (10, 40)}, {1: (30, 40)}, {1: (35, 40)}, {1: (40, 40)}], (1, 0, 1)),
    # first seen inside: in the occupancy, not an entry
    ("born_inside", [{1: (40, 40)}, {1: (41, 40)}, {1: (42, 40)}], (0, 0, 1)),
    # flickering on the boundary within the band: nothing
    (
        "boundary_flicker",
        [{1: (10, 40)}, {1: (19.5, 40)}, {1: (20.5, 40)}, {1: (19.5, 40)}, {1: (20.5, 40)}],
        (0, 0, 0),
    ),
    # a one-frame excursion inside is noise: never an occupant
    ("one_frame_inside", [{1: (10, 40)}, {1: (30, 40)}, {1: (10, 40)}, {1: (10, 40)}], (0, 0, 0)),
    # two people inside at once
    (
        "two_inside",
        [{1: (10, 40), 2: (70, 30)}, {1: (30, 40), 2: (50, 30)}, {1: (35, 40), 2: (45, 30)}],
        (2, 0, 2),
    ),
]


@pytest.mark.parametrize(("frames", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_zone_golden(
    frames: list[dict[int, tuple[float, float]]], expected: tuple[int, int, int]
) -> None:
    # given a zone and synthetic tracks
    # when counted
    zone, states = run(frames)
    # then entries, exits and the maximum occupancy are exact
    assert (zone.entries, zone.exits, zone.max_occupancy) == expected
    assert states[-1].entries == zone.entries and states[-1].exits == zone.exits


def test_dwell_and_exit_event() -> None:
    # given a track that enters at t=0.2 s and leaves at t=0.6 s
    frames = [
        {1: (10, 40)},
        {1: (15, 40)},
        {1: (30, 40)},
        {1: (35, 40)},
        {1: (40, 40)},
        {1: (45, 40)},
        {1: (70, 40)},
        {1: (80, 40)},
    ]
    # when counted
    _, states = run(frames)
    # then dwell grows while inside and the exit event carries the total dwell
    assert dict(states[4].dwell) == {1: pytest.approx(0.2)}
    events = [e for s in states for e in s.events]
    assert [(e.kind, e.frame_index) for e in events] == [("enter", 2), ("exit", 6)]
    assert events[1].dwell == pytest.approx(0.4)
    assert states[-1].occupancy == 0


def test_lost_track_leaves_occupancy_after_ttl() -> None:
    # given a track inside that disappears
    frames: list[dict[int, tuple[float, float]]] = [{1: (40, 40)}, {1: (40, 40)}]
    frames += [{}] * 70  # 7 s at 10 fps > 6 s TTL
    # when counted
    zone, states = run(frames)
    # then it is still an occupant shortly after, and gone after the TTL, without an exit
    assert states[10].occupancy == 1
    assert states[-1].occupancy == 0
    assert zone.exits == 0


def test_lost_occupant_stops_counting_after_presence_window_and_comes_back() -> None:
    # given an occupant last seen at 0.1 s (presence_s = 2 s), found again at 3.0 s
    frames: list[dict[int, tuple[float, float]]] = [{1: (10, 40)}, {1: (30, 40)}, {1: (40, 40)}]
    frames += [{}] * 27 + [{1: (40, 40)}]
    # when counted at 10 fps
    zone, states = run(frames)
    # then it is present for 2 s after it was last seen, then not (no exit, no dwell)...
    assert [states[i].occupancy for i in (3, 22, 23, 29)] == [1, 1, 0, 0]
    assert states[23].dwell == () and zone.exits == 0
    # ...and found again it is present once more without a second entry, dwell running on
    assert states[30].occupancy == 1 and zone.entries == 1
    assert states[30].dwell == ((1, pytest.approx(2.9)),)  # from the entry at 0.1 s
    # and the highest occupancy seen was 1
    assert zone.max_occupancy == 1


def test_id_switch_inside_keeps_one_occupant_and_its_dwell() -> None:
    # given a person inside whose id changes from 1 to 2 at 1 s, 2 px from where 1 was lost
    frames = [{1: (40, 40)} for _ in range(10)] + [{2: (42, 40)} for _ in range(40)]
    # when counted
    zone, states = run(frames)
    # then there is one occupant throughout, no entry or exit, and the dwell runs on
    assert all(st.occupancy == 1 for st in states)
    assert zone.entries == zone.exits == 0
    assert states[-1].dwell == ((2, pytest.approx(4.9)),)


def test_without_hand_off_an_id_switch_counts_two_until_the_presence_window_ends() -> None:
    # given the same id switch with the hand-off disabled
    frames = [{1: (40, 40)} for _ in range(10)] + [{2: (42, 40)} for _ in range(40)]
    spec = ZoneSpec(key="z", name="till", points=SQUARE.points, handoff_radius=0.0)
    # when counted
    _, states = run(frames, spec=spec)
    # then the lost id counts until 2 s after it was last seen, then one occupant again
    assert states[15].occupancy == 2
    assert all(st.occupancy == 1 for st in states[30:])


def test_a_newcomer_far_from_a_lost_occupant_is_another_occupant() -> None:
    # given occupant 1 lost at (25, 25) and a new id first seen inside at (55, 55), 42 px away
    # (the hand-off radius is 10 px here)
    frames = [{1: (25, 25)} for _ in range(5)] + [{2: (55, 55)} for _ in range(5)]
    # when counted
    zone, states = run(frames)
    # then both count while 1 is within its presence window
    assert states[-1].occupancy == 2
    assert zone.entries == 0


@pytest.mark.parametrize("presence", [-0.5, 6.5])
def test_presence_window_is_validated(presence: float) -> None:
    with pytest.raises(ValueError, match="presence_s must be within 0..track_ttl_s"):
        ZoneSpec(key="z", name="z", points=SQUARE.points, presence_s=presence)


def test_hand_off_radius_is_validated() -> None:
    with pytest.raises(ValueError, match="handoff_radius must be >= 0"):
        ZoneSpec(key="z", name="z", points=SQUARE.points, handoff_radius=-0.1)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (((0.1, 0.1), (0.2, 0.2)), "at least 3"),  # two points
        (((0.1, 0.1), (0.2, 0.2), (0.3, 0.3)), "zero area"),  # collinear
        (((0.1, 0.1), (0.5, 0.5), (0.5, 0.1), (0.1, 0.5)), "crossing edges"),  # bow tie
        (((0.1, 0.1), (1.5, 0.1), (0.5, 0.5)), "within 0..1"),  # not normalised
    ],
)
def test_invalid_zones_are_rejected(points: tuple[tuple[float, float], ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ZoneSpec(key="z", name="z", points=points)
