"""model_logs: what this node did with its detector models (loads with their duration,
failures, and detection latency sampled once a minute per model), written to the registry's
ModelLog on the public schema. Writes never raise: a log row is not worth a failed run.

Latency rows come from where detection runs: with the node's inference service, from the
node's supervisor (one row per model per minute for the whole node, the service's batches);
with a detector in each stream process (``COUNTING_INFERENCE=local``), from each run."""

from __future__ import annotations

import logging
import socket
import threading
import time

from django.db import DatabaseError

from counting.inference.server import latency_summary
from tenants.platform.models import ModelEvent, ModelLog

logger = logging.getLogger(__name__)

LATENCY_EVERY_S = 60.0


def node_name() -> str:
    """This node's name in the logs (the host name)."""
    return socket.gethostname()[:200]


def model_log_record(*, event: str, model_id: int | None, label: str, value: float | None = None,
                     message: str = "") -> None:
    """One ModelLog row for this node (errors are logged, not raised)."""
    try:
        ModelLog.objects.create(node=node_name(), model_id=model_id, model_label=label[:64],
                                event=ModelEvent(event), value=value, message=message[:2000])
    except DatabaseError as exc:
        logger.warning("model log %s for %s not written: %s", event, label, exc)


def registry_model_id(version: str) -> int | None:
    """The registry row a detector version names ("yolox-nano 1.0 695e750a5d57 torch 480":
    label, then the first 12 hex digits of the file's SHA-256); None for a settings model."""
    from tenants.platform.models import AiModel

    for model in AiModel.objects.only("id", "name", "version", "sha256"):
        if version.startswith(f"{model.label} {model.sha256[:12]}"):
            return int(model.pk)
    return None


def service_latency_record(models: dict[str, dict[str, float]]) -> int:
    """One latency row per model from the node's inference service (its batches since the
    last call, as ``InferenceServer.latency_take`` gives them); returns the rows written."""
    for version, summary in models.items():
        model_log_record(
            event=ModelEvent.LATENCY, model_id=registry_model_id(version), label=version,
            value=summary["median_ms"],
            message=f"inference service: {int(summary['frames'])} frames in "
                    f"{int(summary['batches'])} batches (mean "
                    f"{summary['frames'] / max(1, summary['batches']):.1f}), p95 "
                    f"{summary['p95_ms']:.1f} ms, max {summary['max_ms']:.1f} ms a batch")
    return len(models)


class LatencySampler:
    """Detection latencies per model, summarised once a minute into one ModelLog row per model
    (median ms as the value; frames, p95 and max in the message). ``add`` runs on the frame
    loop (an append under a lock, no I/O), ``flush_due`` on the duties thread."""

    def __init__(self, *, every_s: float = LATENCY_EVERY_S, enabled: bool = True) -> None:
        self.every_s = every_s
        self.enabled = enabled  # off: the node's inference service writes the node's rows
        self._lock = threading.Lock()
        self._samples: dict[tuple[int | None, str], list[float]] = {}
        self._since = time.monotonic()
        self._key: tuple[int | None, str] = (None, "")

    def model_set(self, *, model_id: int | None, label: str) -> None:
        """The model whose detections are timed from now on (earlier samples keep theirs)."""
        with self._lock:
            self._key = (model_id, label)

    def add(self, ms: float) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._samples.setdefault(self._key, []).append(ms)

    def flush_due(self, *, force: bool = False) -> int:
        """Write the minute's rows when due (or ``force``); returns how many were written."""
        with self._lock:
            if not self._samples or (not force
                                     and time.monotonic() - self._since < self.every_s):
                return 0
            batches, self._samples = self._samples, {}
            self._since = time.monotonic()
        for (model_id, label), samples in batches.items():
            summary = latency_summary([(ms, 1) for ms in samples])
            model_log_record(event=ModelEvent.LATENCY, model_id=model_id, label=label,
                             value=summary["median_ms"],
                             message=f"{len(samples)} frames, p95 {summary['p95_ms']:.1f} ms, "
                                     f"max {summary['max_ms']:.1f} ms")
        return len(batches)
