"""Person detectors (YOLOX-Nano from ONNX): a PyTorch backend and an ONNX Runtime reference."""

from counting.pipeline.detectors.base import (
    DEFAULT_NMS_IOU,
    DEFAULT_SCORE_THRESHOLD,
    Backend,
    Detector,
    ModelError,
    create_detector,
)
from counting.pipeline.detectors.spec import DetectorSpec

__all__ = [
    "DEFAULT_NMS_IOU",
    "DEFAULT_SCORE_THRESHOLD",
    "Backend",
    "Detector",
    "DetectorSpec",
    "ModelError",
    "create_detector",
]
