"""Dwell in zones: the rollups keep every exit's time inside, so the API's median, 90th
percentile and distribution equal those computed directly from the engine's zone events.

Runs the real detector, tracker and zone counter on the first 280 frames (40 s) of PETS09-S2L1
(about 25 s on this 2-core machine) and writes the results through the stream runner's own
path (``frame_result_buffer`` -> ``LedgerBuffer`` -> ``ledger_write``).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.api import factories

SHARED = Path(os.environ.get("SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
VIDEO = SHARED / "video" / "PETS09-S2L1" / "PETS09-S2L1.mp4"
MODEL = SHARED / "models" / "yolox_nano.onnx"
FRAMES = 280
CENTRE = ((0.3, 0.35), (0.7, 0.35), (0.7, 0.75), (0.3, 0.75))  # benchmarks.pets EVAL_ZONES
BASE = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def pets_zone_frames() -> list[tuple[Any, float]]:
    """(FrameResult, video time) of the first frames with one zone keyed "0"."""
    for path in (VIDEO, MODEL):
        if not path.is_file():
            pytest.skip(f"shared data not found: {path} (set SHARED_DIR to the shared directory)")
    from benchmarks.pets import HEIGHT, WIDTH
    from counting.pipeline.detectors import create_detector
    from counting.pipeline.engine import CountingEngine
    from counting.pipeline.sources import FileSource
    from counting.pipeline.specs import ZoneSpec

    detector = create_detector(MODEL, backend="onnxruntime", score_threshold=0.3, threads=2,
                               input_size=480)
    engine = CountingEngine(None, zones=[ZoneSpec(key="0", name="centre", points=CENTRE)])
    engine.tracker.low_score = 0.3
    frames: list[tuple[Any, float]] = []
    with FileSource(VIDEO) as source:
        for index, frame in enumerate(source):
            if index == FRAMES:
                break
            [detections] = detector.detect([frame.image])
            frames.append((engine.process_detections(index, frame.time, (WIDTH, HEIGHT),
                                                     detections), frame.time))
    return frames


def test_dwell_percentiles_equal_the_engine_events(
        pets_zone_frames: list[tuple[Any, float]], tenant_a: Any, in_tenant: Any,
        owner_of: Any, api_client: Any) -> None:
    from counting.leases import lease_acquire
    from counting.ledger import ledger_write
    from counting.runner.buffer import LedgerBuffer
    from counting.runner.frames import frame_result_buffer

    # given the engine's zone exits on PETS, and the same frames stored the runner's way
    dwells = [event.dwell for result, _ in pets_zone_frames for zone in result.zones
              for event in zone.events if event.kind == "exit"]
    assert len(dwells) >= 5
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone="UTC"))
        zone = factories.ZoneFactory(camera=camera, points=[list(p) for p in CENTRE])
        owner = owner_of("a")
        lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
        assert lease is not None
        buffer = LedgerBuffer(camera_id=camera.pk, generation=lease.generation,
                              max_events=10_000)
        for result, time in pets_zone_frames:
            keyed = replace(result, zones=tuple(replace(z, key=str(zone.pk))
                                                for z in result.zones))
            frame_result_buffer(result=keyed, frame_time=BASE + time, buffer=buffer,
                                model_version="test")
            if len(buffer.zones) > 1:  # a batch per minute or so, as the flusher would
                batch = buffer.next_batch(1000)
                assert batch is not None
                ledger_write(batch)
                buffer.done()
        while (batch := buffer.next_batch(1000)) is not None:
            ledger_write(batch)
            buffer.done()

    # when the API is asked for the zone's day and its minutes
    client = api_client("a", owner)
    day = client.get("/api/v1/occupancy/", {"zone": zone.pk, "from": "2026-03-02",
                                            "to": "2026-03-03", "bucket": "day"}).json()
    minutes = client.get("/api/v1/occupancy/", {
        "zone": zone.pk, "from": "2026-03-02T10:00:00", "to": "2026-03-02T10:03:00",
        "bucket": "minute"}).json()

    # then the day's dwell equals numpy's over the engine's exit events
    [point] = day["results"]
    assert point["dwell_count"] == len(dwells) == point["exits"]
    assert point["dwell_median"] == pytest.approx(float(np.percentile(dwells, 50)), abs=1e-9)
    assert point["dwell_p90"] == pytest.approx(float(np.percentile(dwells, 90)), abs=1e-9)
    assert point["dwell_mean"] == pytest.approx(float(np.mean(dwells)), abs=1e-9)
    edges = [0, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf")]
    assert point["dwell_distribution"] == np.histogram(dwells, bins=edges)[0].tolist()
    assert day["dwell_bins"][0] == "<10 s" and len(day["dwell_bins"]) == 9
    # and each minute's dwell is that of the exits in that minute
    for bucket in minutes["results"]:
        start = datetime.fromisoformat(bucket["start"]).timestamp()
        inside = [e.dwell for result, time in pets_zone_frames for z in result.zones
                  for e in z.events
                  if e.kind == "exit" and start <= BASE + time < start + 60]
        assert bucket["dwell_count"] == len(inside)
        if inside:
            assert bucket["dwell_median"] == pytest.approx(float(np.median(inside)), abs=1e-9)
        else:
            assert bucket["dwell_median"] is None
    # the minutes cover every exit (the clip is 40 s from 10:00:30)
    assert sum(b["dwell_count"] for b in minutes["results"]) == len(dwells)

