"""The pipelined file counter (decode thread, batched detection, in-order tracking) counts
exactly what the serial loop counts, and a failing stage surfaces in the caller's thread."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from counting.pipeline.detectors import create_detector
from counting.pipeline.engine import CountingEngine
from counting.pipeline.offline import OfflineCounter
from counting.pipeline.sources import FileSource
from counting.pipeline.specs import LineSpec, ZoneSpec
from counting.pipeline.types import Detections, Frame, FrameResult, ImageArray

LINES = (
    LineSpec(key="x", name="x", start=(0.5, 0.0), end=(0.5, 1.0)),
    LineSpec(key="y", name="y", start=(0.0, 0.55), end=(1.0, 0.55)),
    LineSpec(key="diag", name="diag", start=(0.15, 0.25), end=(0.85, 0.95)),
)
ZONES = (ZoneSpec(key="z", name="z", points=((0.3, 0.3), (0.7, 0.3), (0.7, 0.8), (0.3, 0.8))),)
SEGMENT = 100  # PETS frames 0..99: crossings of all three lines


def _summary(engine: CountingEngine, results: list[FrameResult]) -> dict[str, object]:
    events = [e for r in results for e in r.events] + engine.finish()
    return {
        "analysed": [r.frame_index for r in results if r.analysed],
        "events": [(e.line_key, e.track_id, e.direction, e.frame_index) for e in events],
        "tracks": [[t.track_id for t in r.tracks] for r in results],
        "zones": [(z.entries, z.exits, z.max_occupancy) for z in engine.zones],
    }


@pytest.fixture(scope="module")
def serial_segment(pets_video: Path, model_path: Path) -> tuple[list[Frame], dict[str, object]]:
    """A PETS segment sampled at 5 fps and its summary counted serially (torch, one frame per
    call, one thread: count_video's path until the pipeline; the model's own 416 input, the
    cheaper one)."""
    with FileSource(pets_video) as src:
        frames = list(itertools.islice(src, SEGMENT))
    serial = CountingEngine(
        create_detector(model_path, backend="torch", threads=1, input_size=None),
        lines=LINES, zones=ZONES, detect_fps=5.0,
    )
    return frames, _summary(serial, [serial.process(f) for f in frames])


def test_batched_pipeline_counts_like_the_serial_loop(
    model_path: Path, serial_segment: tuple[list[Frame], dict[str, object]]
) -> None:
    # given a PETS segment counted serially
    frames, expected = serial_segment
    # when the same frames go through the pipeline in batches of 3 on two threads
    engine = CountingEngine(
        create_detector(model_path, backend="torch", threads=2, input_size=None),
        lines=LINES, zones=ZONES, detect_fps=5.0,
    )
    results = list(OfflineCounter(engine, batch=3).run(frames))
    # then every frame comes back once, in order, and tracks, crossings and zones are identical
    assert [r.frame_index for r in results] == list(range(SEGMENT))
    assert _summary(engine, results) == expected
    assert len(expected["events"]) >= 4  # type: ignore[arg-type]


def test_batches_detected_side_by_side_count_like_the_serial_loop(
    model_path: Path, serial_segment: tuple[list[Frame], dict[str, object]]
) -> None:
    # given the same segment counted serially
    frames, expected = serial_segment
    # when three one-thread workers share one detector, each running its own batches of 2
    # (count_video's default on a CPU: one worker per core)
    detector = create_detector(model_path, backend="torch", threads=1, input_size=None)
    engine = CountingEngine(detector, lines=LINES, zones=ZONES, detect_fps=5.0)
    seen: set[str] = set()
    detect = detector.detect

    def spy(images: Sequence[ImageArray]) -> list[Detections]:
        seen.add(threading.current_thread().name)
        return detect(images)

    detector.detect = spy  # type: ignore[method-assign]
    results = list(OfflineCounter(engine, batch=2, workers=3).run(frames))
    # then the batches ran on several threads, and the counts are exactly the serial ones
    assert len(seen) > 1 and all(name.startswith("count-detect") for name in seen)
    assert [r.frame_index for r in results] == list(range(SEGMENT))
    assert _summary(engine, results) == expected


class _EmptyDetector:
    """Detects nothing; fails on call number ``fail_on`` if given."""

    name = "failing"
    score_threshold = 0.3
    input_size = 416
    version = "test"

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on

    def detect(self, images: Sequence[ImageArray]) -> list[Detections]:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("detector broke")
        return [Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32)) for _ in images]


def _frames(n: int) -> list[Frame]:
    image = np.zeros((36, 48, 3), np.uint8)
    return [Frame(image=image, index=i, time=i / 7) for i in range(n)]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_detector_is_raised_to_the_caller_and_the_threads_end(workers: int) -> None:
    # given a detector that fails on its third batch
    engine = CountingEngine(_EmptyDetector(fail_on=3), lines=LINES)  # type: ignore[arg-type]
    before = threading.active_count()
    # when 40 frames are counted in batches of 4, then the error reaches the caller
    with pytest.raises(RuntimeError, match="detector broke"):
        for _ in OfflineCounter(engine, batch=4, workers=workers).run(_frames(40)):
            pass
    # and the stage and worker threads are gone
    assert threading.active_count() == before


@pytest.mark.parametrize("workers", [1, 2])
def test_a_consumer_that_stops_early_stops_the_stages(workers: int) -> None:
    # given a run over a long frame stream
    engine = CountingEngine(_EmptyDetector(), lines=LINES)  # type: ignore[arg-type]
    before = threading.active_count()
    run = OfflineCounter(engine, batch=1, workers=workers).run(
        itertools.islice(itertools.cycle(_frames(5)), 10**6))
    # when the consumer takes two results and closes the run
    assert [r.frame_index for r in itertools.islice(run, 2)] == [0, 1]
    run.close()
    # then the decode and detect threads have ended
    assert threading.active_count() == before


def test_bad_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="batch must be >= 1"):
        OfflineCounter(CountingEngine(_EmptyDetector(), lines=LINES), batch=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers must be >= 1"):
        OfflineCounter(CountingEngine(_EmptyDetector(), lines=LINES), workers=0)  # type: ignore[arg-type]
