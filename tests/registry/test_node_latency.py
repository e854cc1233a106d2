"""model_logs latency per node: with the node's inference service, its supervisor writes one
row per model for the service's batches (the runs write none of their own); with a detector in
each stream process, each run writes its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from counting.inference import InferenceDetector
from counting.model_choice import ModelChoice, model_spec
from counting.model_logs import node_name
from counting.pipeline.types import Detections
from counting.runner.inference_supervisor import InferenceSupervisor, service_listening
from counting.runner.model_watch import ModelWatcher
from tenants.platform.models import AiModel, ModelLog, ModelStatus
from tests.inference.conftest import until


def test_the_nodes_supervisor_writes_one_latency_row_per_model_for_the_services_batches(
        quick_eval: Any, ai_model: Callable[..., AiModel], tmp_path: Path) -> None:
    # given the node's supervisor and service, and a run detecting with a registry model
    model = ai_model(version="1.0", status=ModelStatus.ACTIVE)
    sock = str(tmp_path / "run" / "inference.sock")
    supervisor = InferenceSupervisor(socket_path=sock, threads=1, workers=1, check_s=0.1,
                                     latency_every_s=3600)
    other = InferenceSupervisor(socket_path=sock, threads=1, check_s=0.1)
    client = InferenceDetector(model_spec(model), socket_path=sock, tenant="a", camera="1",
                               timeout_s=120)
    try:
        supervisor.start()
        other.start()
        assert until(lambda: service_listening(sock))
        # when the run has three frames detected
        for _ in range(3):
            client.detect([np.zeros((240, 320, 3), np.uint8)])
        # then the supervisor writes one latency row for the node and that model ...
        assert supervisor.latency_log() == 1
        row = ModelLog.objects.get(event="latency")
        assert (row.node, row.model_id) == (node_name(), model.pk)
        assert row.model_label.startswith("yolox-nano 1.0 695e750a5d57")
        assert row.value is not None and row.value > 0
        assert row.message.startswith("inference service: 3 frames in 3 batches")
        # ... once (nothing ran since), and another worker's supervisor on the node none
        assert supervisor.latency_log() == 0 and other.latency_log() == 0
        assert ModelLog.objects.filter(event="latency").count() == 1
    finally:
        client.close()
        other.stop()
        supervisor.stop()


class _Empty:
    name, version, input_size, score_threshold = "empty", "", 416, 0.3

    def detect(self, images: list[Any]) -> list[Detections]:
        return [Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
                for _ in images]


def test_a_run_writes_latency_rows_only_without_the_inference_service(
        settings: Any, ai_model: Callable[..., AiModel]) -> None:
    model = ai_model(version="1.0", status=ModelStatus.ACTIVE)
    for mode, rows in (("service", 0), ("local", 1)):
        # given a run in this inference mode
        settings.COUNTING_INFERENCE = mode
        watcher = ModelWatcher(camera_id=1, schema="tenant_a", loader=lambda spec: _Empty(),
                               resolve=lambda: ModelChoice(model, model_spec(model), "plan"))
        detector = watcher.timed(watcher.load_initial())
        # when it detects and writes its minute's rows
        detector.detect([np.zeros((8, 8, 3), np.uint8)])
        watcher.logs_flush(force=True)
        # then it wrote a latency row only when no service does it for the node
        assert ModelLog.objects.filter(event="latency").count() == rows, mode
