"""The YOLOX detector on real PETS frames: recall, torch vs ONNX Runtime, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

from counting.pipeline.detectors import ModelError, create_detector
from counting.pipeline.detectors.onnx_graph import pointwise_gemm
from counting.pipeline.detectors.onnxruntime_backend import OrtYoloxDetector, letterbox_cv2
from counting.pipeline.detectors.yolox_torch import TorchYoloxDetector
from counting.pipeline.tracker import iou_matrix

FRAMES = (1, 200, 400, 600, 795)  # 1-based, as in the model README


@pytest.fixture(scope="module")
def pets_frames(pets_video: Path) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(pets_video))
    out = {}
    for n in FRAMES:
        cap.set(cv2.CAP_PROP_POS_FRAMES, n - 1)
        ok, image = cap.read()
        assert ok
        out[n] = image
    cap.release()
    return out


@pytest.fixture(scope="module")
def torch_detector(model_path: Path) -> TorchYoloxDetector:
    det = create_detector(model_path, backend="torch", score_threshold=0.3, threads=2)
    assert isinstance(det, TorchYoloxDetector)
    return det


@pytest.fixture(scope="module")
def ort_detector(model_path: Path) -> OrtYoloxDetector:
    det = create_detector(model_path, backend="onnxruntime", score_threshold=0.3, threads=2)
    assert isinstance(det, OrtYoloxDetector)
    return det


def gt_boxes(gt: Path, frame: int) -> np.ndarray:
    rows = np.loadtxt(gt, delimiter=",", ndmin=2)
    rows = rows[rows[:, 0] == frame]
    return np.stack([rows[:, 2], rows[:, 3], rows[:, 2] + rows[:, 4], rows[:, 3] + rows[:, 5]], 1)


def test_recall_against_ground_truth(
    torch_detector: TorchYoloxDetector, pets_frames: dict[int, np.ndarray], pets_gt: Path
) -> None:
    # given five annotated frames
    # when detected in one batch
    results = torch_detector.detect([pets_frames[n] for n in FRAMES])
    # then every gt box is matched at IoU >= 0.5 (26 of 26, as the README measured)
    matched = total = 0
    for n, dets in zip(FRAMES, results, strict=True):
        gt = gt_boxes(pets_gt, n)
        iou = iou_matrix(gt, dets.xyxy)
        matched += int((iou.max(axis=1) >= 0.5).sum()) if len(dets) else 0
        total += len(gt)
    assert total == 26
    assert matched == 26


def test_torch_and_onnxruntime_agree(
    torch_detector: TorchYoloxDetector,
    ort_detector: OrtYoloxDetector,
    pets_frames: dict[int, np.ndarray],
) -> None:
    # given the same preprocessed input, at the default input size (480: 60x60 + 30x30 + 15x15
    # anchors)
    assert torch_detector.input_size == ort_detector.input_size == 480
    x, _ = letterbox_cv2(pets_frames[200], 480)
    # when run through both backends
    ours = torch_detector.forward_raw(torch.from_numpy(x[None])).numpy()
    ref = ort_detector.forward_raw(x[None])
    # then the raw outputs agree to float32 precision
    assert ours.shape == ref.shape == (1, 4725, 85)
    assert float(np.abs(ours - ref).max()) < 1e-3
    # and the final detections (each with its own letterbox) match box for box
    a = torch_detector.detect([pets_frames[200]])[0]
    b = ort_detector.detect([pets_frames[200]])[0]
    assert len(a) == len(b)
    iou = iou_matrix(a.xyxy, b.xyxy)
    assert float(iou.max(axis=1).min()) > 0.95
    assert np.abs(np.sort(a.scores) - np.sort(b.scores)).max() < 0.02


def test_batch_equals_single(
    torch_detector: TorchYoloxDetector, pets_frames: dict[int, np.ndarray]
) -> None:
    # given two frames detected together and one by one
    batch = torch_detector.detect([pets_frames[1], pets_frames[400]])
    single = [torch_detector.detect([pets_frames[n]])[0] for n in (1, 400)]
    # then the results are the same
    for a, b in zip(batch, single, strict=True):
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        create_detector(tmp_path / "nope.onnx")


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_invalid_model_file(tmp_path: Path, backend: str) -> None:
    # given a file that is not an ONNX model
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf \x00\x01\x02" * 10)
    # then loading it is a ModelError naming the file
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        create_detector(bad, backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"score_threshold": 0.0}, "score_threshold"),
        ({"score_threshold": 1.5}, "score_threshold"),
        ({"backend": "tensorrt"}, "unknown detector backend"),
        ({"threads": 0}, "threads"),
        ({"input_size": 400}, "multiple of 32"),
        ({"input_size": 96}, "multiple of 32 between 128 and 1280"),
        ({"input_size": 1312}, "multiple of 32"),
        ({"input_size": 480.0}, "must be an integer"),
        ({"input_size": True}, "must be an integer"),
    ],
)
def test_invalid_detector_arguments(
    model_path: Path, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        create_detector(model_path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [None, 416, 352, 640])
def test_both_backends_run_the_same_model_at_any_input_size(
    model_path: Path, pets_frames: dict[int, np.ndarray], size: int | None
) -> None:
    # given both backends built for one input size (None: the model's own 416)
    a = create_detector(model_path, backend="torch", threads=1, input_size=size)
    b = create_detector(model_path, backend="onnxruntime", threads=1, input_size=size)
    side = size or 416
    assert a.input_size == b.input_size == side  # type: ignore[attr-defined]
    # when they detect the same frame
    ours, ref = a.detect([pets_frames[400]])[0], b.detect([pets_frames[400]])[0]
    # then they find the same people, in the frame's own pixels
    assert len(ours) == len(ref) > 0
    iou = iou_matrix(ours.xyxy, ref.xyxy)
    assert float(iou.max(axis=1).min()) > 0.95
    anchors = sum((side // s) ** 2 for s in (8, 16, 32))
    x, _ = letterbox_cv2(pets_frames[400], side)
    assert b.forward_raw(x[None]).shape == (1, anchors, 85)  # type: ignore[attr-defined]


def test_detector_version_names_the_weights_backend_and_input(
    torch_detector: TorchYoloxDetector, ort_detector: OrtYoloxDetector
) -> None:
    # given detectors built by the factory, then each says which weights (the README's SHA-256
    # prefix), which backend and which input produced its boxes, within the ledger's 64 chars
    assert torch_detector.version == "yolox_nano 695e750a5d57 torch 480"
    assert ort_detector.version == "yolox_nano 695e750a5d57 onnxruntime 480"
    assert len(ort_detector.version) <= 64


def test_input_size_rewrite_leaves_the_model_file_unchanged(model_path: Path) -> None:
    # given the model as loaded
    from counting.pipeline.detectors.input_size import with_input_size
    from counting.pipeline.detectors.onnx_graph import load_onnx

    model = load_onnx(model_path)
    before = model.SerializeToString()
    # when a copy is declared for 480
    resized = with_input_size(model, 480)
    # then only the copy changed, and it is still a valid model
    assert model.SerializeToString() == before
    dims = [d.dim_value for d in resized.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 480, 480]
    onnx.checker.check_model(resized)


def test_focus_rewrite_is_exact(model_path: Path) -> None:
    # given the model and its Focus-rewritten copy
    from counting.pipeline.detectors.onnx_graph import OnnxTorchGraph, load_onnx
    from counting.pipeline.detectors.onnx_rewrites import rewrite_focus

    model = load_onnx(model_path)
    rewritten = rewrite_focus(model)
    # then 8 slices and a concat are gone (9 nodes) and the outputs agree to float rounding
    assert len(model.graph.node) - len(rewritten.graph.node) == 9
    x = torch.rand(1, 3, 416, 416) * 255
    with torch.inference_mode():
        a = OnnxTorchGraph(model, fused_conv=False).eval()(x)
        b = OnnxTorchGraph(rewritten, fused_conv=False).eval()(x)
    assert float((a - b).abs().max()) < 1e-3


def test_transposed_concat_rewrite_is_exact(model_path: Path) -> None:
    # given the model and its copy with the head's Concat -> Transpose reordered
    from counting.pipeline.detectors.onnx_graph import OnnxTorchGraph, load_onnx
    from counting.pipeline.detectors.onnx_rewrites import rewrite_transposed_concat

    model = load_onnx(model_path)
    rewritten = rewrite_transposed_concat(model)
    # then one Transpose became three (one per level) and the outputs are identical
    ops = [n.op_type for n in rewritten.graph.node]
    assert ops.count("Transpose") == 3
    assert [n.op_type for n in model.graph.node].count("Transpose") == 1
    x = torch.rand(1, 3, 416, 416) * 255
    with torch.inference_mode():
        a = OnnxTorchGraph(model, fused_conv=False).eval()(x)
        b = OnnxTorchGraph(rewritten, fused_conv=False).eval()(x)
    assert a.shape == b.shape
    assert torch.equal(a, b)


def test_parallel_max_pools_rewrite_is_exact(model_path: Path) -> None:
    # given the model and its copy with the SPP pools (5, 9, 13 on one input) chained
    from counting.pipeline.detectors.onnx_graph import OnnxTorchGraph, load_onnx
    from counting.pipeline.detectors.onnx_rewrites import rewrite_parallel_max_pools

    model = load_onnx(model_path)
    rewritten = rewrite_parallel_max_pools(model)

    def kernels(m: onnx.ModelProto) -> list[list[int]]:
        return [
            list(onnx.helper.get_attribute_value(a))
            for n in m.graph.node
            if n.op_type == "MaxPool"
            for a in n.attribute
            if a.name == "kernel_shape"
        ]

    # then every pool is a 5x5 one, each reading the previous one
    assert kernels(model) == [[5, 5], [9, 9], [13, 13]]
    assert kernels(rewritten) == [[5, 5], [5, 5], [5, 5]]
    pools = [n for n in rewritten.graph.node if n.op_type == "MaxPool"]
    assert pools[1].input[0] == pools[0].output[0] and pools[2].input[0] == pools[1].output[0]
    # and the outputs are bit-identical
    x = torch.rand(1, 3, 416, 416) * 255
    with torch.inference_mode():
        a = OnnxTorchGraph(model, fused_conv=False).eval()(x)
        b = OnnxTorchGraph(rewritten, fused_conv=False).eval()(x)
    assert torch.equal(a, b)


@pytest.mark.parametrize("activation", ["none", "swish", "sigmoid"])
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def testpointwise_gemm_equals_conv(activation: str, channels_last: bool, with_bias: bool) -> None:
    # given a batch of two images and a 1x1 conv's weight, bias and activation
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 24, 9, 11, generator=gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(40, 24, 1, 1, generator=gen)
    bias = torch.randn(40, generator=gen) if with_bias else None
    post = {"none": lambda y: y, "swish": F.silu, "sigmoid": torch.sigmoid}[activation]
    # when the conv runs as one GEMM over the pixels
    matrix = weight.reshape(40, 24).t().contiguous()
    out = pointwise_gemm(x, matrix, bias, activation)
    # then it is the conv to float32 precision, channels-last, with the NCHW shape
    ref = post(F.conv2d(x, weight, bias))
    assert out.shape == (2, 40, 9, 11)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_pointwise_convs_are_prepacked_as_gemm(torch_detector: TorchYoloxDetector) -> None:
    # given the prepacked YOLOX graph
    graph = torch_detector.graph
    matrices = [w for w in graph._packed.values() if w.dim() == 2]
    blocked = [w for w in graph._packed.values() if w.dim() != 2]
    # then each of its 82 pointwise convs is a GEMM matrix and the other 31 convs stay oneDNN's
    assert (len(matrices), len(blocked)) == (82, 31)
