"""The detector of a stream run: a client of the node's inference service, or (``local``) the
worker process's own detector, loaded once and shared by its stream runs."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

from counting.pipeline.detectors.spec import DetectorSpec, SpecKey

_detectors: dict[SpecKey, Any] = {}
_detectors_lock = threading.Lock()


def settings_detector_spec() -> DetectorSpec:
    """The detector the COUNTING_* settings name (used when no registry model applies)."""
    return DetectorSpec(model_path=str(settings.COUNTING_MODEL_PATH),
                        backend=settings.COUNTING_DETECTOR_BACKEND,
                        input_size=settings.COUNTING_DETECTOR_INPUT_SIZE,
                        score_threshold=settings.COUNTING_SCORE_THRESHOLD,
                        precision=node_precision())


def node_precision() -> str:
    """COUNTING_DETECTOR_PRECISION resolved on this node (``auto``: bfloat16 on AMX CPUs)."""
    from counting.pipeline.detectors.precision import resolve_precision

    return resolve_precision(settings.COUNTING_DETECTOR_PRECISION,
                             settings.COUNTING_DETECTOR_BACKEND)


def shared_detector(spec: DetectorSpec | None = None) -> Any:
    """One detector per worker process and spec, reused by every stream task it runs (loading
    the model takes seconds; a prefork child runs one stream at a time)."""
    spec = spec or settings_detector_spec()
    key = spec.key()
    with _detectors_lock:
        if key not in _detectors:
            from counting.pipeline.detectors import create_detector

            _detectors[key] = create_detector(
                spec.model_path, backend=spec.backend,  # type: ignore[arg-type]
                score_threshold=spec.score_threshold,
                device=settings.COUNTING_DEVICE, threads=settings.COUNTING_TORCH_THREADS,
                input_size=spec.input_size, precision=spec.precision)
        return _detectors[key]


def stream_detector(*, schema: str, camera_id: int, spec: DetectorSpec | None = None) -> Any:
    """The detector of one stream run: with ``COUNTING_INFERENCE = "service"`` a client of the
    node's inference service (its own connection and shared-memory segment, named by tenant
    and camera for the service's fairness; close it when the run ends), else
    :func:`shared_detector`."""
    spec = spec or settings_detector_spec()
    if settings.COUNTING_INFERENCE != "service":
        return shared_detector(spec)
    from counting.inference import InferenceDetector
    from counting.pipeline.detectors.base import check_model_file

    check_model_file(spec.model_path)  # a wrong setting is a ModelError here, as with "local"
    return InferenceDetector(spec, socket_path=settings.COUNTING_INFERENCE_SOCKET,
                             tenant=schema, camera=str(camera_id),
                             timeout_s=settings.COUNTING_INFERENCE_TIMEOUT_S)


def detector_version(detector: Any) -> str:
    """What produced a count, as stored on its events (at most 64 characters)."""
    return str(getattr(detector, "version", "") or getattr(detector, "name", ""))[:64]
