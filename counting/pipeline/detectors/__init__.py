"""Person detectors (YOLOX-Nano from ONNX): a PyTorch backend and an ONNX Runtime reference."""

from counting.pipeline.detectors.base import (
    DEFAULT_NMS_IOU,
    DEFAULT_SCORE_THRESHOLD,
    Backend,
    Detector,
    ModelError,
    create_detector,
)

__all__ = [
    "DEFAULT_NMS_IOU",
    "DEFAULT_SCORE_THRESHOLD",
    "Backend",
    "Detector",
    "ModelError",
    "create_detector",
]
