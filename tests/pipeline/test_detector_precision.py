"""The torch detector in bfloat16: the same people as float32, deterministic, labelled, refused
where it cannot run. (Its speed is benchmarks/bench_pipeline.py's, not a test's.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from counting.pipeline.detectors import DetectorSpec, create_detector
from counting.pipeline.detectors.precision import (
    backend_label,
    check_precision,
    has_native_bfloat16,
    resolve_precision,
)
from counting.pipeline.detectors.spec import create_detector_from_spec
from counting.pipeline.detectors.yolox_torch import TorchYoloxDetector
from counting.pipeline.tracker import iou_matrix

FRAMES = (1, 120, 200, 400, 600, 795)


@pytest.fixture(scope="module")
def frames(pets_video: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(pets_video))
    out = []
    for n in FRAMES:
        cap.set(cv2.CAP_PROP_POS_FRAMES, n - 1)
        ok, image = cap.read()
        assert ok
        out.append(image)
    cap.release()
    return out


@pytest.fixture(scope="module")
def bf16(model_path: Path) -> TorchYoloxDetector:
    det = create_detector(model_path, threads=1, precision="bfloat16")
    assert isinstance(det, TorchYoloxDetector)
    return det


@pytest.fixture(scope="module")
def fp32(model_path: Path) -> TorchYoloxDetector:
    det = create_detector(model_path, threads=1)
    assert isinstance(det, TorchYoloxDetector)
    return det


def test_bfloat16_finds_the_same_people_as_float32(
    bf16: TorchYoloxDetector, fp32: TorchYoloxDetector, frames: list[np.ndarray]
) -> None:
    # given six PETS frames detected in both formats
    ours, ref = bf16.detect(frames), fp32.detect(frames)
    for a, b in zip(ours, ref, strict=True):
        # then every confident float32 person is found in bfloat16 in nearly the same box
        confident = b.xyxy[b.scores >= 0.5]
        assert len(confident) > 0
        iou = iou_matrix(confident, a.xyxy)
        assert float(iou.max(axis=1).min()) > 0.85
        # and the number of people differs by at most one (a box near the 0.3 threshold)
        assert abs(len(a) - len(b)) <= 1
        # and scores move by about bfloat16's 8-bit mantissa, no more
        matched = iou.argmax(axis=1)
        assert np.abs(a.scores[matched] - b.scores[b.scores >= 0.5]).max() < 0.05


def test_bfloat16_boxes_do_not_depend_on_the_batch_or_the_threads(
    model_path: Path, bf16: TorchYoloxDetector, frames: list[np.ndarray]
) -> None:
    # given the frames one by one, in one batch, and on two threads (the inference service
    # batches cameras together and must give each the boxes it would get alone)
    single = [bf16.detect([f])[0] for f in frames]
    batch = bf16.detect(frames)
    two = create_detector(model_path, threads=2, precision="bfloat16").detect(frames)
    # then the boxes and scores are the same floats
    for a, b, c in zip(single, batch, two, strict=True):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.xyxy, c.xyxy)


def test_bfloat16_is_what_runs_and_what_counts_store(bf16: TorchYoloxDetector) -> None:
    # given a bfloat16 detector, then its weights are bfloat16 and its raw output float32
    assert {b.dtype for b in bf16.graph.buffers()} == {torch.bfloat16}
    out = bf16.forward_raw(torch.zeros(1, 3, 480, 480))
    assert out.dtype == torch.float32
    # and every count it produces says so
    assert bf16.name == "torch-bf16"
    assert bf16.version == "yolox_nano 695e750a5d57 torch-bf16 480"


def test_auto_is_bfloat16_only_where_the_cpu_has_amx() -> None:
    expected = "bfloat16" if has_native_bfloat16() else "float32"
    assert resolve_precision("auto") == expected
    assert resolve_precision("auto", "onnxruntime") == "float32"
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16"


@pytest.mark.parametrize(("name", "backend", "message"), [
    ("fp16", "torch", "detector precision must be one of auto, float32, bfloat16, got 'fp16'"),
    ("", "torch", "must be one of"),
    ("bfloat16", "onnxruntime", "bfloat16 precision needs the torch backend"),
])
def test_unusable_precisions_are_refused(
    model_path: Path, name: str, backend: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_precision(name, backend)
    with pytest.raises(ValueError, match=message):
        create_detector(model_path, backend=backend, precision=name)  # type: ignore[arg-type]
    if name != "bfloat16":
        with pytest.raises(ValueError, match=message):
            check_precision(name)


def test_a_spec_names_its_precision(model_path: Path) -> None:
    # given two specs that differ only in precision
    a = DetectorSpec(model_path=str(model_path))
    b = DetectorSpec(model_path=str(model_path), precision="bfloat16")
    # then they are two models to load, and each survives the trip to the inference service
    assert a.key() != b.key()
    assert DetectorSpec.from_dict(b.as_dict()) == b
    assert (a.backend_label, b.backend_label) == ("torch", "torch-bf16")
    assert backend_label("onnxruntime", "float32") == "onnxruntime"
    # and a registry model loaded in bfloat16 is labelled with it
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    det = create_detector_from_spec(
        DetectorSpec(model_path=str(model_path), precision="bfloat16", sha256=digest,
                     label="yolox-nano 1.0"), threads=1)
    assert det.version == "yolox-nano 1.0 695e750a5d57 torch-bf16 480"
