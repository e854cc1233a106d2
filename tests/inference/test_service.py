"""The inference service as a real process on a temporary socket, with the real model."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from counting.inference import InferenceDetector, InferenceUnavailable
from counting.inference.client import BACKOFF_MIN_S
from counting.inference.server import InferenceServer
from counting.pipeline.detectors import DetectorSpec, create_detector
from counting.pipeline.detectors.base import Detector
from counting.pipeline.types import Detections
from tests.inference.conftest import ServiceStart, wait_listening

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
        with pytest.raises(ValueError, match="cannot load the model.*SHA-256"):
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
