"""Letterbox, decode and NMS in torch (no model needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from counting.pipeline.detectors.onnxruntime_backend import letterbox_cv2, nms_numpy
from counting.pipeline.detectors.yolox_ops import box_iou, decode, letterbox, make_grids, nms

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("boxes", "scores", "expected"),
    [
        # two heavy overlaps: the lower score is suppressed
        ([[0, 0, 10, 10], [1, 1, 11, 11]], [0.9, 0.8], [0]),
        # disjoint boxes both survive, highest score first
        ([[0, 0, 10, 10], [20, 20, 30, 30]], [0.5, 0.9], [1, 0]),
        # a chain: B overlaps A and C, A and C don't overlap; B is removed by A, so C survives
        ([[0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10]], [0.9, 0.8, 0.7], [0, 2]),
        # IoU exactly at the threshold (0.5) is kept (suppression needs IoU > threshold)
        ([[0, 0, 10, 10], [0, 0, 10, 5]], [0.9, 0.8], [0, 1]),
        # equal scores keep the earlier index
        ([[0, 0, 10, 10], [0, 0, 10, 10]], [0.7, 0.7], [0]),
        # nothing in, nothing out
        ([], [], []),
    ],
)
def test_nms_cases(boxes: list[list[float]], scores: list[float], expected: list[int]) -> None:
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    s = torch.tensor(scores, dtype=torch.float32)
    assert nms(b, s, 0.5).tolist() == expected


def test_nms_matches_the_numpy_reference_on_random_boxes() -> None:
    # given 300 random boxes
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 200, (300, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (300, 2))], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    # when suppressed by both implementations
    ours = nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.45).tolist()
    ref = nms_numpy(boxes, scores, 0.45).tolist()
    # then they keep the same boxes in the same order
    assert ours == ref


def test_box_iou() -> None:
    a = torch.tensor([[0.0, 0, 10, 10]])
    b = torch.tensor([[5.0, 5, 15, 15], [0, 0, 10, 10], [20, 20, 20, 20]])
    assert box_iou(a, b).tolist() == [[pytest.approx(25 / 175), 1.0, 0.0]]


def test_letterbox_top_left_with_114_padding_and_cv2_equivalence() -> None:
    # given a 360x480 noise image
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (360, 480, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (5, 5), 0)
    # when letterboxed to 416 in torch and with the cv2 reference
    batch, ratios = letterbox([image], 416, CPU)
    ref, r = letterbox_cv2(image, 416)
    # then the ratio is 416/480, the image sits top-left (312 rows) and the rest is 114
    assert ratios == [pytest.approx(416 / 480)] and r == pytest.approx(416 / 480)
    assert batch.shape == (1, 3, 416, 416)
    assert bool((batch[0, :, 312:, :] == 114).all())
    # and the resized pixels match cv2 INTER_LINEAR up to rounding: never more than one grey
    # level apart (cv2 uses 11-bit fixed-point weights, torch's uint8 kernel its own), on about
    # one pixel in five
    diff = np.abs(batch[0].numpy() - ref)
    assert float(diff.max()) <= 1.0
    assert float(diff.mean()) < 0.3
    # and the batch is already channels-last in memory (no reorder before the graph)
    assert batch.is_contiguous(memory_format=torch.channels_last)


def test_decode_grid_layout() -> None:
    # given raw outputs that are zero except anchor index 52*3+4 (stride 8, gx=4, gy=3) and
    # the first stride-16 anchor
    grids, strides = make_grids(416, CPU)
    assert grids.shape == (3549, 2)
    raw = torch.zeros(1, 3549, 85)
    raw[0, 52 * 3 + 4, :6] = torch.tensor([0.5, 0.5, 0.0, np.log(2.0), 0.8, 0.5])
    raw[0, 52 * 52, 4:6] = torch.tensor([1.0, 1.0])
    # when decoded
    boxes, scores = decode(raw, grids, strides)
    # then centre = (g + t) * s, size = exp(t) * s, score = obj * p(person)
    assert boxes[0, 52 * 3 + 4].tolist() == pytest.approx([36 - 4, 28 - 8, 36 + 4, 28 + 8])
    assert float(scores[0, 52 * 3 + 4]) == pytest.approx(0.4)
    assert boxes[0, 52 * 52].tolist() == pytest.approx([-8, -8, 8, 8])
