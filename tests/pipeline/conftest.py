"""Fixtures for the pipeline tests: no database, shared footage found or skipped.

The shared data directory is ``<repo>/../shared`` unless ``SHARED_DIR`` says otherwise; tests
that need it skip with the reason when it is absent. The detector pass over the PETS video runs
once per session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from counting.pipeline.types import Detections

# Test modules import torch before any detector is created, so the backend's default comes too
# late here; without it OpenMP workers spin and collapse when another process wants a core.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SHARED = Path(os.environ.get("SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
VIDEO = SHARED / "video" / "PETS09-S2L1" / "PETS09-S2L1.mp4"
GT = SHARED / "video" / "PETS09-S2L1" / "gt.txt"
MODEL = SHARED / "models" / "yolox_nano.onnx"


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """Overrides the project-wide database fixture: pipeline tests never touch a database."""
    yield


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (set SHARED_DIR to the shared directory)")
    return path


@pytest.fixture(scope="session")
def pets_video() -> Path:
    """The PETS09-S2L1 video."""
    return _need(VIDEO)


@pytest.fixture(scope="session")
def pets_gt() -> Path:
    """The PETS09-S2L1 MOT ground truth."""
    return _need(GT)


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The YOLOX-Nano ONNX model."""
    return _need(MODEL)


@pytest.fixture(scope="session")
def pets_detections(pets_video: Path, model_path: Path) -> tuple[list[Detections], list[float]]:
    """Detections (score >= 0.3) and frame times for the whole video, computed once.

    ONNX Runtime by default because it is the faster pass on a small CPU and these tests are
    about tracking and counting; ``test_detector_model`` holds the torch backend to ORT's
    outputs, and the golden counts are the same with either backend (``make eval`` uses
    torch). Set ``PIPELINE_TEST_BACKEND=torch`` to run this pass on torch.
    """
    from benchmarks.pets import detect_video

    backend = os.environ.get("PIPELINE_TEST_BACKEND", "onnxruntime")
    return detect_video(pets_video, model_path, 0.3, backend=backend, threads=2)


@pytest.fixture(scope="session")
def pets_detections_at_416(
    pets_video: Path, model_path: Path
) -> tuple[list[Detections], list[float]]:
    """The same pass at the model's own input size (416), for the input-size comparison."""
    from benchmarks.pets import detect_video

    backend = os.environ.get("PIPELINE_TEST_BACKEND", "onnxruntime")
    return detect_video(pets_video, model_path, 0.3, backend=backend, threads=2, input_size=None)
