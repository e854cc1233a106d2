"""The engine: sampling, rule hot-swap, events."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from counting.pipeline.engine import CountingEngine
from counting.pipeline.specs import LineSpec, MaskSpec, ZoneSpec
from counting.pipeline.types import Detections, Frame, ImageArray

LINE = LineSpec(key="1", name="door", start=(0.5, 0.0), end=(0.5, 1.0))


class ScriptedDetector:
    """Returns one box whose bottom-centre x follows a script, one value per call."""

    name = "scripted"
    score_threshold = 0.3

    def __init__(self, xs: Sequence[float]) -> None:
        self.xs = list(xs)
        self.calls = 0

    def detect(self, images: Sequence[ImageArray]) -> list[Detections]:
        out = []
        for _ in images:
            x = self.xs[min(self.calls, len(self.xs) - 1)]
            self.calls += 1
            out.append(
                Detections(
                    np.asarray([[x - 20, 20, x + 20, 60]], np.float32),
                    np.asarray([0.9], np.float32),
                )
            )
        return out


def frames(n: int, fps: float) -> list[Frame]:
    image = np.zeros((100, 100, 3), np.uint8)
    return [Frame(image=image, index=i, time=i / fps) for i in range(n)]


def test_process_samples_and_counts() -> None:
    # given a 10 fps source analysed at 5 fps and a person walking leftwards across the line
    detector = ScriptedDetector([80, 70, 60, 40, 30, 20])
    engine = CountingEngine(detector, lines=[LINE], detect_fps=5.0)
    # when every frame is offered
    results = [engine.process(f) for f in frames(12, 10.0)]
    # then only every other frame is analysed and the crossing is one "in" event
    assert [r.analysed for r in results] == [True, False] * 6
    assert detector.calls == 6
    events = [e for r in results for e in r.events]
    assert [(e.line_key, e.direction, e.track_id) for e in events] == [("1", "in", 1)]
    assert engine.totals()[0].count_in == 1


def test_update_rules_keeps_unchanged_and_resets_changed() -> None:
    # given an engine with two lines that have counted
    moved = LineSpec(key="2", name="other", start=(0.3, 0.0), end=(0.3, 1.0))
    engine = CountingEngine(None, lines=[LINE, moved])
    for i, x in enumerate([80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 20.0, 10.0]):
        box = np.asarray([[x - 20, 20, x + 20, 60]], np.float32)
        engine.process_detections(
            i, i / 10, (100, 100), Detections(box, np.asarray([0.9], np.float32))
        )
    before = {t.key: (t.count_in, t.rule_version) for t in engine.totals()}
    version = engine.rule_set_version
    # when line 1 is re-submitted unchanged (renamed only) and line 2 is moved
    engine.update_rules(
        lines=[
            LineSpec(key="1", name="front door", start=(0.5, 0.0), end=(0.5, 1.0)),
            LineSpec(key="2", name="other", start=(0.35, 0.0), end=(0.35, 1.0)),
        ],
        zones=[ZoneSpec(key="z", name="z", points=((0, 0), (1, 0), (1, 1)))],
    )
    after = {t.key: (t.count_in, t.rule_version) for t in engine.totals()}
    # then line 1 keeps its count, line 2 starts afresh with a new version, and the set bumps
    assert before == {"1": (1, LINE.rule_version), "2": (1, moved.rule_version)}
    assert after["1"] == (1, LINE.rule_version)
    assert engine.totals()[0].name == "front door"
    assert after["2"][0] == 0 and after["2"][1] != moved.rule_version
    assert engine.rule_set_version == version + 1
    assert [z.spec.key for z in engine.zones] == ["z"]


def test_counter_state_is_bounded_on_long_streams() -> None:
    # given a line and a stream of 5000 short-lived tracks (one new id per frame, 1 s each)
    engine = CountingEngine(None, lines=[LINE])
    counter = engine.lines[0]
    from counting.pipeline.types import Track

    sizes = []
    for i in range(5000):
        tracks = [Track(tid, (10.0, 10.0, 20.0, 40.0), 0.9) for tid in range(max(1, i - 9), i + 1)]
        counter.update(tracks, i / 10, i, (100, 100))
        sizes.append(counter.tracked)
    # then only tracks seen within the TTL (6 s = 60 frames) plus the live ones are kept
    assert max(sizes) <= 71


def test_repeated_rule_keys_are_named_and_change_nothing() -> None:
    # given an engine with one line
    a = LineSpec(key="door", name="Door", start=(0.5, 0.0), end=(0.5, 1.0))
    engine = CountingEngine(None, lines=[a])
    b = LineSpec(key="gate", name="Gate", start=(0.2, 0.0), end=(0.2, 1.0))
    zone = ZoneSpec(key="hall", name="Hall", points=((0.1, 0.1), (0.9, 0.1), (0.5, 0.9)))
    # when new rules repeat keys, then the error names only the repeated keys
    with pytest.raises(ValueError, match=r"line keys must be unique; repeated: door$"):
        engine.update_rules(lines=[a, b, a])
    with pytest.raises(ValueError, match=r"zone keys must be unique; repeated: hall$"):
        engine.update_rules(lines=[b], zones=[zone, zone])
    # and the rules in force are unchanged
    assert [c.spec.key for c in engine.lines] == ["door"]


def test_masks_drop_detections_before_tracking() -> None:
    # given a line at x = 0.5, a zone over the left half, and a mask over a static "person"
    # (a sign) standing in that half at foot point (25, 88) of a 480x360 frame
    line = LineSpec(key="door", name="Door", start=(0.5, 0.0), end=(0.5, 1.0))
    zone = ZoneSpec(key="left", name="Left", points=((0, 0), (0.5, 0), (0.5, 1), (0, 1)))
    sign = MaskSpec(key="sign", name="Sign", points=((0, 0.15), (0.1, 0.15), (0.1, 0.3), (0, 0.3)))
    def run(masks: list[MaskSpec]) -> tuple[CountingEngine, list[int]]:
        engine = CountingEngine(None, lines=[line], zones=[zone], masks=masks)
        occupancy = []
        for i in range(30):
            x = 400.0 - 10 * i
            boxes = np.array([[15, 68, 35, 88], [x - 10, 150, x + 10, 200]], np.float32)
            result = engine.process_detections(
                i, i / 7, (480, 360), Detections(boxes, np.array([0.9, 0.9], np.float32))
            )
            occupancy.append(result.zones[0].occupancy)
        return engine, occupancy

    # when a walker crosses the line right to left while the sign is detected in every frame
    masked, occupancy = run([sign])
    # then the walker is counted once and is the zone's only occupant; the sign never is
    assert (masked.lines[0].count_in, masked.lines[0].count_out) == (1, 0)
    assert max(occupancy) == 1 and occupancy[-1] == 1
    # and without the mask the sign is an occupant too
    unmasked, occupancy = run([])
    assert (unmasked.lines[0].count_in, unmasked.lines[0].count_out) == (1, 0)
    assert occupancy[-1] == 2


def test_repeated_mask_keys_are_refused() -> None:
    sign = MaskSpec(key="s", name="Sign", points=((0, 0), (0.1, 0), (0.1, 0.1)))
    with pytest.raises(ValueError, match="mask keys must be unique; repeated: s$"):
        CountingEngine(None, masks=[sign, sign])
