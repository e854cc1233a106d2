"""ONNX Runtime backend: the reference for speed and numerics (cv2/numpy pre/post)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from counting.pipeline.detectors.base import PERSON_CLASS, ModelError
from counting.pipeline.detectors.input_size import with_input_size
from counting.pipeline.detectors.yolox_ops import PAD_VALUE, STRIDES, letterbox_ratio
from counting.pipeline.types import Detections, ImageArray

F32 = npt.NDArray[np.float32]


def letterbox_cv2(image: ImageArray, size: int) -> tuple[F32, float]:
    """The README's reference preprocessing: HWC BGR uint8 -> CHW float32 and the ratio."""
    h, w = image.shape[:2]
    r = letterbox_ratio(h, w, size)
    resized = cv2.resize(image, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas.transpose(2, 0, 1).astype(np.float32), r


def nms_numpy(boxes: F32, scores: F32, iou_threshold: float) -> npt.NDArray[np.intp]:
    """Greedy NMS in numpy (reference implementation)."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        lt = np.maximum(boxes[i, :2], boxes[rest, :2])
        rb = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


class OrtYoloxDetector:
    """YOLOX person detector on ONNX Runtime (CPU), one session run per batch."""

    def __init__(
        self,
        model_path: Path,
        score_threshold: float,
        nms_iou: float,
        threads: int | None = None,
        input_size: int | None = None,
    ) -> None:
        import onnxruntime as ort

        from counting.pipeline.detectors.onnx_graph import load_onnx

        self.name = "onnxruntime"
        self.score_threshold = score_threshold
        self.version = ""  # set by create_detector
        self.nms_iou = nms_iou
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        # Idle ORT workers spin by default; on a small box that steals the cores the tracker,
        # the decoder and other cameras' detectors need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source: str | bytes = str(model_path)
        if input_size is not None:
            source = with_input_size(load_onnx(model_path), input_size).SerializeToString()
        try:
            self.session = ort.InferenceSession(
                source, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own exception hierarchy
            raise ModelError(f"not a valid ONNX model: {model_path} ({exc})") from exc
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape: list[Any] = list(inp.shape)
        if len(shape) != 4 or not isinstance(shape[2], int):
            raise ModelError(f"expected a fixed NCHW input, model has {shape}")
        self.input_size = int(shape[2])
        self.batch_fixed = isinstance(shape[0], int)
        grids, strides = [], []
        for s in STRIDES:
            n = self.input_size // s
            ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            grids.append(np.stack([xs, ys], -1).reshape(-1, 2))
            strides.append(np.full((n * n, 1), float(s)))
        self._grids = np.concatenate(grids).astype(np.float32)
        self._strides = np.concatenate(strides).astype(np.float32)

    def forward_raw(self, batch: F32) -> F32:
        """Raw model output for a preprocessed NCHW batch (the export fixes batch size 1)."""
        outs = [
            self.session.run(None, {self.input_name: batch[i : i + 1]})[0]
            for i in range(batch.shape[0])
        ]
        return np.concatenate(outs).astype(np.float32)

    def detect(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detect people in a batch of BGR images; boxes in each image's own pixels."""
        results: list[Detections] = []
        for img in images:
            x, r = letterbox_cv2(img, self.input_size)
            raw = self.forward_raw(x[None])[0]
            xy = (raw[:, 0:2] + self._grids) * self._strides
            wh = np.exp(raw[:, 2:4]) * self._strides
            boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
            scores = raw[:, 4] * raw[:, 5 + PERSON_CLASS]
            keep = scores >= self.score_threshold
            boxes, scores = boxes[keep], scores[keep]
            idx = nms_numpy(boxes, scores, self.nms_iou)
            b = boxes[idx] / r
            h, w = img.shape[:2]
            b[:, 0::2] = np.clip(b[:, 0::2], 0, w)
            b[:, 1::2] = np.clip(b[:, 1::2], 0, h)
            results.append(Detections(b.astype(np.float32), scores[idx].astype(np.float32)))
        return results
