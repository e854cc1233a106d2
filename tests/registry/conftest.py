"""Fixtures for the model registry: a short, serial evaluation and registry rows."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from tenants.platform.models import AiModel, ModelStatus

YOLOX_SHA256 = "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
REFERENCE = "PETS09-S2L1 10 frames at 5 fps, 6 lines (seed 2026), threshold 0.3"
_serial = itertools.count(1)


@pytest.fixture
def quick_eval(settings: Any, shared_dir: Any, db: Any) -> Any:
    """Registration evaluates 10 frames in this process with ONNX Runtime (seconds)."""
    settings.SHARED_DIR = shared_dir
    settings.COUNTING_MODEL_STORE = shared_dir / "models"
    settings.COUNTING_DETECTOR_BACKEND = "onnxruntime"
    settings.REGISTRY_EVAL_FRAMES = 10
    settings.REGISTRY_EVAL_RANDOM_LINES = 0
    settings.REGISTRY_EVAL_WORKERS = 1
    return settings


@pytest.fixture
def ai_model(db: Any) -> Callable[..., AiModel]:
    """A registry row with a stored evaluation (no file evaluation: the rules are tested)."""

    def make(*, count_error: float = 0.05, status: str = ModelStatus.CANDIDATE,
             reference: str = REFERENCE, **fields: Any) -> AiModel:
        n = next(_serial)
        values = {"name": "yolox-nano", "version": f"t{n}", "file_path": "yolox_nano.onnx",
                  "format": "onnx", "sha256": YOLOX_SHA256, "input_size": 416,
                  "classes": ["person"], "licence": "Apache-2.0", "status": status,
                  "evaluation": {"reference": reference, "count_error": count_error}}
        values.update(fields)
        return AiModel.objects.create(**values)

    return make
