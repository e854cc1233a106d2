"""PyTorch backend: the YOLOX ONNX graph run with torch operators (see ``onnx_graph``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import numpy as np
import torch

from counting.pipeline.detectors.base import PERSON_CLASS, ModelError
from counting.pipeline.detectors.heap import keep_freed_memory
from counting.pipeline.detectors.input_size import with_input_size
from counting.pipeline.detectors.onnx_graph import OnnxTorchGraph, load_onnx
from counting.pipeline.detectors.onnx_rewrites import (
    rewrite_focus,
    rewrite_parallel_max_pools,
    rewrite_transposed_concat,
)
from counting.pipeline.detectors.precision import Precision, backend_label
from counting.pipeline.detectors.yolox_ops import decode, letterbox, make_grids, nms
from counting.pipeline.types import Detections, ImageArray

logger = logging.getLogger(__name__)


class TorchYoloxDetector:
    """YOLOX person detector on PyTorch: batched letterbox, forward, decode and NMS in torch.

    Runs on CUDA when available unless ``device`` says otherwise. On CPU, ``threads`` sets
    ``torch.set_num_threads`` (a process-wide setting in torch); with more than one, a single
    frame runs one operator thread plus the heaviest detection head on a helper thread, and
    batches split each operator over the threads. Activations are kept
    channels-last, which oneDNN's convolutions prefer, and the process keeps freed heap memory
    for the next frame (:mod:`~counting.pipeline.detectors.heap`). ``precision="bfloat16"``
    runs the graph's weights and activations in bfloat16 (letterbox, decode and NMS stay
    float32; see :mod:`~counting.pipeline.detectors.precision`); the name is then
    ``torch-bf16``.
    """

    def __init__(
        self,
        model_path: Path,
        score_threshold: float,
        nms_iou: float,
        device: str | None = None,
        threads: int | None = None,
        fused_conv: bool = True,
        input_size: int | None = None,
        precision: str = "float32",
    ) -> None:
        if precision not in get_args(Precision):
            raise ValueError(f"precision must be float32 or bfloat16, got {precision!r}")
        self.precision = precision
        self.name = backend_label("torch", precision)
        self.dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        self.score_threshold = score_threshold
        self.version = ""  # set by create_detector
        self.nms_iou = nms_iou
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.device = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"invalid torch device {device!r}: {exc}") from exc
        if threads is not None:
            torch.set_num_threads(threads)
        if self.device.type == "cpu":
            keep_freed_memory()  # no per-frame page faults for the activations (see heap.py)
        model = load_onnx(model_path)
        if input_size is not None:
            model = with_input_size(model, input_size)
        if fused_conv:
            model = rewrite_parallel_max_pools(rewrite_transposed_concat(rewrite_focus(model)))
        self.graph = OnnxTorchGraph(model, fused_conv=fused_conv).eval()
        self.graph.to(self.device, self.dtype)
        shape = self.graph.input_shape
        if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3] or shape[2] <= 0:
            raise ModelError(f"expected a square NCHW 3-channel input, model has {shape}")
        self.input_size = int(shape[2])
        self._grids, self._strides = make_grids(self.input_size, self.device)
        self._channels_last = self.device.type == "cpu"
        # bfloat16 convs stay plain: oneDNN picks its AMX layout per call (weights prepacked
        # for float32 are refused, and its bf16 1x1 convs beat the float32 GEMM path).
        if self.device.type == "cpu" and self.dtype == torch.float32:
            try:
                self.graph.prepack()
            except RuntimeError as exc:  # a torch build without oneDNN weight reordering
                logger.warning("conv weight prepacking unavailable: %s", exc)
        # Batch 1 on several CPU threads: one operator thread plus the heaviest head on a helper
        # thread beats splitting each operator (see schedule.py); batches split operators.
        self._threads = torch.get_num_threads()
        self._branch = self.device.type == "cpu" and self._threads > 1 and self.graph.plan_branch()
        with torch.inference_mode():
            probe = self.graph(
                torch.zeros(1, 3, self.input_size, self.input_size, device=self.device,
                            dtype=self.dtype)
            )
        if probe.dim() != 3 or probe.shape[1] != self._grids.shape[0] or probe.shape[2] < 6:
            raise ModelError(
                f"model output {tuple(probe.shape)} is not a YOLOX head for input "
                f"{self.input_size} (expected (1, {self._grids.shape[0]}, 85))"
            )
        logger.info(
            "torch detector on %s, %d threads, input %d, %s",
            self.device,
            torch.get_num_threads(),
            self.input_size,
            precision,
        )

    def forward_raw(self, batch: torch.Tensor) -> torch.Tensor:
        """Raw model output (float32) for a preprocessed NCHW batch (tests and benchmarks)."""
        with torch.inference_mode():
            batch = batch.to(self.dtype)
            if self._channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            branch = self._branch and batch.shape[0] == 1
            torch.set_num_threads(1 if branch else self._threads)
            out: torch.Tensor = self.graph(batch, branch=branch)
            return out.float()

    def detect(self, images: Sequence[ImageArray]) -> list[Detections]:
        """Detect people in a batch of BGR images; boxes in each image's own pixels."""
        if not images:
            return []
        with torch.inference_mode():
            batch, ratios = letterbox(list(images), self.input_size, self.device)
            raw = self.forward_raw(batch)
            boxes, scores = decode(raw, self._grids, self._strides, PERSON_CLASS)
            results: list[Detections] = []
            for i, img in enumerate(images):
                keep = scores[i] >= self.score_threshold
                b, s = boxes[i][keep], scores[i][keep]
                idx = nms(b, s, self.nms_iou)
                b = b[idx] / ratios[i]
                h, w = img.shape[:2]
                b[:, 0::2] = b[:, 0::2].clamp(0, w)
                b[:, 1::2] = b[:, 1::2].clamp(0, h)
                results.append(
                    Detections(
                        b.cpu().numpy().astype(np.float32),
                        s[idx].cpu().numpy().astype(np.float32),
                    )
                )
        return results
