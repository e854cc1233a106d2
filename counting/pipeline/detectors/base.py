"""Detector interface, errors and the factory.

Backends live in their own modules and import their heavy runtime (torch, onnxruntime) only
when instantiated, so importing :mod:`counting.pipeline` stays cheap.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

from counting.pipeline.detectors.input_size import DEFAULT_INPUT_SIZE, check_input_size
from counting.pipeline.detectors.precision import resolve_precision
from counting.pipeline.types import Detections, ImageArray

Backend = Literal["torch", "onnxruntime"]

DEFAULT_SCORE_THRESHOLD = 0.3
DEFAULT_NMS_IOU = 0.45
PERSON_CLASS = 0


class ModelError(ValueError):
    """The model file is missing, unreadable, not ONNX, or not the expected detector."""


class Detector(Protocol):
    """A person detector: BGR uint8 images in, boxes in original-image pixels out."""

    name: str
    score_threshold: float
    input_size: int
    #: What produced the boxes, stored with every count event: model file, weights digest,
    #: backend and input size (set by :func:`create_detector`).
    version: str

    def detect(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detect people in a batch of BGR images (any sizes); one result per image."""
        ...


def model_version(path: Path, backend: str, input_size: int) -> str:
    """``"yolox_nano 695e750a5d57 torch 480"``: the file's name, the first 12 hex digits of
    its SHA-256, the backend and the input side (at most 64 characters)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return f"{path.stem[:32]} {digest} {backend} {input_size}"


def check_model_file(path: str | Path) -> Path:
    """Raise :class:`ModelError` with a helpful message unless ``path`` is a readable file."""
    p = Path(path)
    if not p.exists():
        raise ModelError(
            f"model file not found: {p} (pass --model PATH or set COUNTING_MODEL_PATH to the "
            "yolox_nano.onnx file)"
        )
    if not p.is_file():
        raise ModelError(f"model path is not a file: {p}")
    return p


def create_detector(
    model_path: str | Path,
    backend: Backend = "torch",
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    nms_iou: float = DEFAULT_NMS_IOU,
    device: str | None = None,
    threads: int | None = None,
    input_size: int | None = DEFAULT_INPUT_SIZE,
    precision: str = "float32",
) -> Detector:
    """Build a YOLOX person detector from an ONNX file.

    ``backend="torch"`` runs the graph with PyTorch operators (weights read from the ONNX
    tensors, nothing unpickled); ``"onnxruntime"`` is the speed/accuracy reference.
    ``device`` defaults to CUDA when available (torch only); ``threads`` sets the CPU threads.
    ``input_size`` is the side of the square input the frames are letterboxed to (a multiple of
    32; 480 by default, None for the model's own 416; see
    :mod:`~counting.pipeline.detectors.input_size`). ``precision`` is float32, bfloat16 (torch
    only) or auto (bfloat16 where the CPU has AMX; see
    :mod:`~counting.pipeline.detectors.precision`).
    """
    if not 0.0 < score_threshold < 1.0:
        raise ValueError(f"score_threshold must be within (0, 1), got {score_threshold}")
    if not 0.0 < nms_iou <= 1.0:
        raise ValueError(f"nms_iou must be within (0, 1], got {nms_iou}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if input_size is not None:
        check_input_size(input_size)
    concrete = resolve_precision(precision, backend)
    path = check_model_file(model_path)
    if backend == "torch":
        # OpenMP workers that spin at barriers collapse as soon as anything else wants a core
        # (measured here: 2 threads went from ~45 ms to 300-650 ms per frame next to one busy
        # process). libgomp reads this once, when torch is first imported; the environment
        # still wins if the operator set it.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from counting.pipeline.detectors.yolox_torch import TorchYoloxDetector

        detector: Detector = TorchYoloxDetector(
            path,
            score_threshold,
            nms_iou,
            device=device,
            threads=threads,
            input_size=input_size,
            precision=concrete,
        )
    elif backend == "onnxruntime":
        from counting.pipeline.detectors.onnxruntime_backend import OrtYoloxDetector

        detector = OrtYoloxDetector(
            path, score_threshold, nms_iou, threads=threads, input_size=input_size
        )
    else:
        raise ValueError(f"unknown detector backend {backend!r}; use 'torch' or 'onnxruntime'")
    detector.version = model_version(path, detector.name, detector.input_size)
    return detector
