"""Detector latency as ``make bench`` and the model registry measure it: wall time of
``detect`` on single frames after a warm-up, summarised as median, minimum and mean."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from counting.pipeline.types import ImageArray


def latency_stats(samples_ms: list[float]) -> dict[str, float]:
    """Median, minimum and mean of latencies in milliseconds (rounded to 0.01 ms)."""
    return {
        "median_ms": round(statistics.median(samples_ms), 2),
        "min_ms": round(min(samples_ms), 2),
        "mean_ms": round(statistics.fmean(samples_ms), 2),
    }


def measure_latency(detector: Any, images: Sequence[ImageArray], *,
                    warmup: int = 3) -> dict[str, float]:
    """Latency of ``detector.detect([image])`` per image (batch 1) after ``warmup`` calls
    (allocator, oneDNN primitive caches)."""
    for image in list(images)[:warmup]:
        detector.detect([image])
    samples = []
    for image in images:
        started = time.perf_counter()
        detector.detect([image])
        samples.append((time.perf_counter() - started) * 1000.0)
    return latency_stats(samples)
