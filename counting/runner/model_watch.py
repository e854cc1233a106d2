"""The run's detector model: loaded at the start from the registry's choice for the camera
(or the settings), and swapped between two frames when the choice changes, without a restart.

::

    duties thread   every rules_poll_s: ``poll()`` resolves the choice (a few small queries);
                    a changed spec starts a loader thread (loading takes seconds)
    loader thread   checks the file (data format, SHA-256), ``shared_detector(spec)``; the
                    load (with its duration) or the failure (the old model keeps counting)
                    is queued for model_logs, which the duties thread writes
    frame loop      ``take()`` between frames: the engine gets the new detector and every
                    crossing from then on carries the new model_version

Detection latency is measured on the loop (``TimedDetector``) and written once a minute per
model by the duties thread (``LatencySampler``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from counting.model_choice import ModelChoice, camera_model_choice
from counting.model_logs import LatencySampler, model_log_record
from counting.pipeline.detectors.model_file import check_model_format, verify_sha256
from counting.pipeline.detectors.spec import DetectorSpec, registry_version, safetensors_refusal
from counting.runner.detector import (
    detector_version,
    settings_detector_spec,
    shared_detector,
    stream_detector,
)
from tenants.platform.models import ModelEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A loaded detector, the version its crossings store and the registry row's id."""

    detector: Any
    version: str
    model_id: int | None
    spec: DetectorSpec
    seconds: float = 0.0


def load_model(spec: DetectorSpec, *, model_id: int | None,
               loader: Callable[[DetectorSpec], Any] = shared_detector) -> LoadedModel:
    """Load a spec's detector, a registry model's file checked first (data format, SHA-256);
    raises ModelError (a ValueError) or OSError. No I/O but the file: the caller logs."""
    started = time.monotonic()
    if spec.label:
        path = Path(spec.model_path)
        if path.suffix.lower() == ".safetensors":
            raise safetensors_refusal(path)
        check_model_format(path, "onnx")
        verify_sha256(path, spec.sha256)
    detector = loader(spec)
    version = (registry_version(spec.label, spec.sha256, detector.name, detector.input_size)
               if spec.label else detector_version(detector))
    return LoadedModel(detector=detector, version=version, model_id=model_id, spec=spec,
                       seconds=time.monotonic() - started)


class TimedDetector:
    """A detector that reports each ``detect`` call's wall time (ms) to a sampler."""

    def __init__(self, inner: Any, sampler: LatencySampler) -> None:
        self.inner = inner
        self.sampler = sampler
        self.name = inner.name
        self.score_threshold = inner.score_threshold
        self.input_size = inner.input_size
        self.version = getattr(inner, "version", "")

    def close(self) -> None:
        """Close the inner detector when it holds resources (an inference service client)."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def detect(self, images: Sequence[Any]) -> Any:
        started = time.perf_counter()
        result = self.inner.detect(images)
        self.sampler.add((time.perf_counter() - started) * 1000.0)
        return result


class ModelWatcher:
    """Which model a run counts with, and the swap when the registry's choice changes."""

    def __init__(self, *, camera_id: int, schema: str,
                 loader: Callable[[DetectorSpec], Any] | None = None,
                 resolve: Callable[[], ModelChoice] | None = None) -> None:
        self.camera_id = camera_id
        self.schema = schema
        # The node's inference service client, or this process's detector (COUNTING_INFERENCE).
        self.loader = loader or (lambda spec: stream_detector(schema=schema, camera_id=camera_id,
                                                              spec=spec))
        self.resolve = resolve or (lambda: camera_model_choice(schema=schema,
                                                               camera_id=camera_id))
        # With the node's inference service, the node's supervisor writes the latency rows.
        self.sampler = LatencySampler(enabled=settings.COUNTING_INFERENCE != "service")
        self.current: LoadedModel | None = None
        self._ready: LoadedModel | None = None
        self._loading: DetectorSpec | None = None
        self._failed: DetectorSpec | None = None
        self._logs: list[dict[str, Any]] = []
        self._error: Exception | None = None
        self._lock = threading.Lock()

    @property
    def failed(self) -> DetectorSpec | None:
        """The spec whose load failed last (not retried until the choice changes)."""
        return self._failed

    def load_initial(self) -> LoadedModel:
        """The model to start with, loaded and logged on this thread (ModelError/ValueError or
        OSError on failure, logged too)."""
        choice = self.resolve()
        loaded = self._load_logged(choice.spec or settings_detector_spec(), choice)
        self.logs_flush()
        if loaded is None:
            assert self._error is not None
            raise self._error
        self._use(loaded)
        return loaded

    def _load_logged(self, spec: DetectorSpec, choice: ModelChoice) -> LoadedModel | None:
        """Load; queue the load's or the failure's log row (written by ``logs_flush``)."""
        model_id = choice.model.pk if choice.model else None
        try:
            loaded = load_model(spec, model_id=model_id, loader=self.loader)
        except (ValueError, OSError) as exc:  # ModelError is a ValueError
            self._error = exc
            self._log(event=ModelEvent.FAILURE, model_id=model_id,
                      label=spec.label or Path(spec.model_path).name, message=str(exc))
            return None
        self._log(event=ModelEvent.LOAD, model_id=model_id, label=loaded.version,
                  value=round(loaded.seconds, 3), message=f"loaded in {loaded.seconds:.2f} s")
        return loaded

    def _log(self, **row: Any) -> None:
        with self._lock:
            self._logs.append(row)

    def logs_flush(self, *, force: bool = False) -> None:
        """Duties thread (or the run's start): the queued load and failure rows, and the
        minute's latency rows when due (all of them with ``force``)."""
        with self._lock:
            rows, self._logs = self._logs, []
        for row in rows:
            model_log_record(**row)
        self.sampler.flush_due(force=force)

    def _use(self, loaded: LoadedModel) -> None:
        self.current = loaded
        self.sampler.model_set(model_id=loaded.model_id, label=loaded.version)

    def timed(self, loaded: LoadedModel) -> TimedDetector:
        return TimedDetector(loaded.detector, self.sampler)

    def poll(self) -> None:
        """Duties thread: resolve the choice; when it names another model, load it beside the
        loop (a spec that failed to load is not retried until the choice changes again)."""
        choice = self.resolve()
        spec = choice.spec or settings_detector_spec()
        with self._lock:
            current = self.current.spec if self.current else None
            if (current is not None and spec.key() == current.key()
                    and spec.label == current.label):
                self._failed = None
                return
            if spec in (self._loading, self._failed) or (
                    self._ready is not None and self._ready.spec == spec):
                return
            self._loading = spec
        threading.Thread(target=self._load, args=(spec, choice), daemon=True,
                         name=f"model-load-{self.camera_id}").start()

    def _load(self, spec: DetectorSpec, choice: ModelChoice) -> None:
        loaded = self._load_logged(spec, choice)
        with self._lock:
            self._loading = None
            if loaded is None:
                self._failed = spec
            else:
                self._ready = loaded
        if loaded is None:
            logger.error("camera %s: model %s not loaded (%s); the current model keeps "
                         "counting", self.camera_id, spec.label or spec.model_path, self._error)

    def take(self) -> LoadedModel | None:
        """Frame loop, between frames: the newly loaded model, once (None: no change)."""
        if self._ready is None:  # the common case, without the lock
            return None
        with self._lock:
            loaded, self._ready = self._ready, None
        if loaded is not None:
            self._use(loaded)
        return loaded

