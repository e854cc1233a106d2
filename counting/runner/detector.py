"""The detector of a stream worker process, loaded once and shared by its stream runs."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

_detectors: dict[tuple[str, str, int | None], Any] = {}
_detectors_lock = threading.Lock()


def shared_detector() -> Any:
    """One detector per worker process, reused by every stream task it runs (loading the
    model takes seconds; a prefork child runs one stream at a time)."""
    key = (
        str(settings.COUNTING_MODEL_PATH),
        settings.COUNTING_DETECTOR_BACKEND,
        settings.COUNTING_DETECTOR_INPUT_SIZE,
    )
    with _detectors_lock:
        if key not in _detectors:
            from counting.pipeline.detectors import create_detector

            _detectors[key] = create_detector(
                settings.COUNTING_MODEL_PATH, backend=settings.COUNTING_DETECTOR_BACKEND,
                score_threshold=settings.COUNTING_SCORE_THRESHOLD,
                device=settings.COUNTING_DEVICE, threads=settings.COUNTING_TORCH_THREADS,
                input_size=settings.COUNTING_DETECTOR_INPUT_SIZE)
        return _detectors[key]


def detector_version(detector: Any) -> str:
    """What produced a count, as stored on its events (at most 64 characters)."""
    return str(getattr(detector, "version", "") or getattr(detector, "name", ""))[:64]
