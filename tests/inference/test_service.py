"""The inference service as a real process on a temporary socket, with the real model."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from counting.inference import InferenceDetector, InferenceUnavailable
from counting.inference.client import BACKOFF_MIN_S
from counting.inference.server import InferenceServer
from counting.pipeline.detectors import DetectorSpec, create_detector
from counting.pipeline.detectors.base import Detector
from counting.pipeline.types import Detections
from tests.inference.conftest import ServiceStart, serving_in_process, wait_listening

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local(model_path: Path) -> Detector:
    """The in-process detector of the same spec (what runners used before the service)."""
    return create_detector(model_path, threads=1)


def _same(a: list[Detections], b: list[Detections]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x.xyxy, y.xyxy) and np.array_equal(x.scores, y.scores)
        for x, y in zip(a, b, strict=True))


def test_the_service_gives_the_in_process_boxes_and_reconnects_after_a_restart(
        service: tuple[Path, ServiceStart], model_path: Path, local: Detector,
        pets_frames: list[np.ndarray]) -> None:
    # given a running service and a client for the settings' spec
    sock, start = service
    proc = start()
    client = InferenceDetector(DetectorSpec(model_path=str(model_path)), socket_path=sock,
                               tenant="a", camera="1", timeout_s=60)
    expected = [local.detect([f])[0] for f in pets_frames]
    try:
        # when frames go through the service one at a time and as one batch
        single = [client.detect([f])[0] for f in pets_frames]
        batch = client.detect(pets_frames)
        # then the boxes and scores are exactly those of the in-process detector
        assert _same(single, expected) and _same(batch, expected)
        assert client.version == local.version and client.input_size == 480
        assert [len(d) for d in single] == [len(d) for d in expected] != [0, 0, 0, 0]

        # when the service is killed
        proc.kill()
        proc.wait(timeout=30)
        # then the next call says so with the clear error type, and the one right after does
        # not wait for the socket (it backs off)
        with pytest.raises(InferenceUnavailable, match="inference service"):
            client.detect(pets_frames[:1])
        with pytest.raises(InferenceUnavailable, match="reconnecting in"):
            client.detect(pets_frames[:1])
        assert client.down_since is not None

        # when it is started again (the worker's supervisor does this)
        start()
        # then the client reconnects on a call after its backoff, with the same results
        time.sleep(BACKOFF_MIN_S * 4)
        assert _same(client.detect(pets_frames[1:3]), expected[1:3])
        assert client.down_since is None
    finally:
        client.close()


def test_frames_of_several_cameras_and_tenants_are_detected_in_one_batch(
        tmp_path: Path, model_path: Path, local: Detector,
        pets_frames: list[np.ndarray]) -> None:
    # given a service in this process (the loaded model reused) that gathers for up to 60 s or
    # until 4 frames wait
    sock = tmp_path / "batch.sock"
    server = InferenceServer(sock, max_batch=4, gather_ms=60_000, loader=lambda spec: local)
    server.bind()
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    wait_listening(sock)
    spec = DetectorSpec(model_path=str(model_path))
    clients = [InferenceDetector(spec, socket_path=sock, tenant=t, camera=c, timeout_s=120)
               for t, c in (("a", "1"), ("a", "2"), ("b", "1"), ("c", "7"))]
    results: dict[int, list[Detections]] = {}
    try:
        # when four runners of three tenants each send a frame at once
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(
            i, clients[i].detect([pets_frames[i]]))) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        # then the four frames ran as one batch and each runner got its own frame's boxes
        assert server.stats()["batches"] == 1 and server.stats()["frames"] == 4
        assert all(_same(results[i], local.detect([pets_frames[i]])) for i in range(4))
    finally:
        for c in clients:
            c.close()
        server.stop()
        serving.join(timeout=10)


def test_a_model_the_service_cannot_load_is_a_clear_value_error(
        tmp_path: Path, model_path: Path, local: Detector) -> None:
    # given a service and a spec whose checksum does not match the file
    sock = tmp_path / "bad.sock"
    server = InferenceServer(sock)
    server.bind()
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    client = InferenceDetector(DetectorSpec(model_path=str(model_path), sha256="0" * 64),
                               socket_path=sock, timeout_s=60)
    try:
        # when it is used, then the error says the model cannot be loaded and why
        with pytest.raises(ValueError, match="cannot load the model.*checksum mismatch"):
            client.detect([np.zeros((8, 8, 3), np.uint8)])
    finally:
        client.close()
        server.stop()
        serving.join(timeout=10)


def test_a_stream_nodes_snapshots_are_blurred_through_the_service_not_a_model_of_their_own(
        service: tuple[Path, ServiceStart], model_path: Path, pets_frames: list[np.ndarray],
        settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from counting import privacy

    # given a streams node whose inference service listens
    sock, start = service
    start()
    settings.COUNTING_INFERENCE = "service"  # type: ignore[attr-defined]
    settings.COUNTING_INFERENCE_SOCKET = str(sock)  # type: ignore[attr-defined]
    settings.COUNTING_MODEL_PATH = str(model_path)  # type: ignore[attr-defined]
    monkeypatch.setattr(privacy, "_detector", None)
    # when a runner's snapshot is blurred
    blurred, people = privacy.people_blur(pets_frames[0].copy())
    # then the people were found by the service at the privacy threshold (no model loaded in
    # this process), as many as the in-process privacy detector finds, and pixelated
    detector = privacy._privacy_detector()
    assert isinstance(detector, InferenceDetector)
    assert detector.score_threshold == privacy.PRIVACY_SCORE_THRESHOLD
    in_process = create_detector(model_path, threads=1,
                                 score_threshold=privacy.PRIVACY_SCORE_THRESHOLD)
    assert people == len(in_process.detect([pets_frames[0]])[0]) > 0
    assert not np.array_equal(blurred, pets_frames[0])
    detector.close()


@contextlib.contextmanager
def _closing(clients: list[InferenceDetector]) -> Iterator[None]:
    try:
        yield
    finally:
        for client in clients:
            client.close()


class _SlowDetector:
    """A detector that takes 0.4 s per batch and records how many batches ran at once."""

    name, version, input_size, score_threshold = "slow", "slow 1", 32, 0.5

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(0.4)
        with self.lock:
            self.running -= 1
        return [Detections(np.array([[float(img[0, 0, 0]), 0, 1, 1]], np.float32),
                           np.array([0.9], np.float32)) for img in images]


@pytest.mark.parametrize(("workers", "at_once"), [(1, 1), (3, 3)])
def test_each_batch_worker_runs_its_own_batch_at_the_same_time(
        tmp_path: Path, model_path: Path, workers: int, at_once: int) -> None:
    # given a service with ``workers`` batch workers and batches of one frame
    slow = _SlowDetector()
    sock = tmp_path / f"workers{workers}.sock"
    server = InferenceServer(sock, workers=workers, threads=1, max_batch=1, gather_ms=0,
                             loader=lambda spec: slow)  # type: ignore[arg-type,return-value]
    spec = DetectorSpec(model_path=str(model_path))
    clients = [InferenceDetector(spec, socket_path=sock, tenant="a", camera=str(i),
                                 timeout_s=30) for i in range(3)]
    results: dict[int, list[Detections]] = {}
    with serving_in_process(server), _closing(clients):
        # when three runners each send a frame at once
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(
            i, clients[i].detect([np.full((4, 4, 3), i, np.uint8)]))) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        # then as many batches ran at once as there are workers, and each runner got the
        # boxes of its own frame
        assert slow.most_at_once == at_once
        assert [results[i][0].xyxy[0, 0] for i in range(3)] == [0.0, 1.0, 2.0]
        assert server.stats()["workers"] == workers


def test_two_workers_sharing_the_real_model_give_the_in_process_boxes(
        tmp_path: Path, model_path: Path, local: Detector,
        pets_frames: list[np.ndarray]) -> None:
    # given a service whose two one-thread workers share one loaded model
    sock = tmp_path / "shared.sock"
    server = InferenceServer(sock, workers=2, threads=1, max_batch=1, gather_ms=0,
                             loader=lambda spec: local)
    spec = DetectorSpec(model_path=str(model_path))
    clients = [InferenceDetector(spec, socket_path=sock, tenant="a", camera=str(i),
                                 timeout_s=120) for i in range(2)]
    got: dict[int, list[Detections]] = {}
    with serving_in_process(server), _closing(clients):
        # when two runners send their frames at the same time, several rounds
        def run(i: int) -> None:
            got[i] = [clients[i].detect([f])[0] for f in pets_frames[i::2] * 2]

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        # then every frame's boxes are exactly the in-process detector's
        for i in range(2):
            assert _same(got[i], [local.detect([f])[0] for f in pets_frames[i::2] * 2])


@pytest.mark.parametrize(("device", "workers", "threads", "layout"), [
    ("cpu", None, None, ("cores", 1)),
    ("cpu", 1, None, (1, "cores")),
    ("cpu", None, 2, ("cores/2", 2)),
    ("cpu", 3, 2, (3, 2)),
    ("cuda", None, None, (1, 1)),
])
def test_the_worker_layout_shares_the_cores_out(device: str, workers: int | None,
                                                threads: int | None, layout: tuple[Any, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from counting.inference import server as server_module

    monkeypatch.setattr("os.cpu_count", lambda: 8)
    names = {"cores": 8, "cores/2": 4}
    expected = tuple(names.get(v, v) if isinstance(v, str) else v for v in layout)
    assert server_module.worker_layout(device=device, workers=workers,
                                       threads=threads) == expected


def test_a_bfloat16_spec_is_served_by_its_own_bfloat16_model(
        tmp_path: Path, model_path: Path, local: Detector,
        pets_frames: list[np.ndarray]) -> None:
    # given a service loading models from their specs, and runners of a float32 and a bfloat16
    # camera (COUNTING_DETECTOR_PRECISION differs between the two nodes' settings)
    sock = tmp_path / "bf16.sock"
    server = InferenceServer(sock, workers=1, threads=1, max_batch=4, gather_ms=0)
    fp32 = DetectorSpec(model_path=str(model_path))
    bf16 = DetectorSpec(model_path=str(model_path), precision="bfloat16")
    in_process = create_detector(model_path, threads=1, precision="bfloat16")
    clients = [InferenceDetector(spec, socket_path=sock, tenant="a", camera=str(i),
                                 timeout_s=120) for i, spec in enumerate((fp32, bf16))]
    with serving_in_process(server), _closing(clients):
        # then each says before and after the service answers which format counts
        assert [c.version for c in clients] == [
            "yolox_nano 695e750a5d57 torch 480", "yolox_nano 695e750a5d57 torch-bf16 480"]
        # when both send the same frames
        got = [c.detect(pets_frames) for c in clients]
        # then each got the boxes of its own format, exactly as in-process
        assert _same(got[0], local.detect(pets_frames))
        assert _same(got[1], in_process.detect(pets_frames))
        assert not _same(got[0], got[1])
        assert [c.version for c in clients] == [local.version, in_process.version]
        # and the service holds the two models side by side
        assert server.model(bf16) is not server.model(fp32)
