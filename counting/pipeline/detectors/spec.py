"""DetectorSpec: which detector a stream runs, as plain data that crosses process boundaries.

The model registry resolves a camera to a spec; the runner (or the node's inference service)
builds the detector from it. Two specs with the same :meth:`DetectorSpec.key` share one loaded
model. Plain data only (no Django): the inference service and ``count_video`` use it too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from counting.pipeline.detectors.base import DEFAULT_SCORE_THRESHOLD


@dataclass(frozen=True)
class DetectorSpec:
    """A detector to load: model file, expected SHA-256 (checked at load when set), backend,
    input side, score threshold and the label stored on every count event it produces."""

    model_path: str
    backend: str = "torch"
    input_size: int | None = 480
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    sha256: str = ""
    #: The registry's name for it ("yolox-nano 1.0"); empty for a model given by settings.
    label: str = ""

    def key(self) -> tuple[str, str, int | None, float, str]:
        """What identifies one loaded model (specs with equal keys share it)."""
        return (str(Path(self.model_path)), self.backend, self.input_size,
                self.score_threshold, self.sha256)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (sent to the inference service, kept in logs)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorSpec:
        """The inverse of :meth:`as_dict`; unknown keys are refused with a ValueError."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown DetectorSpec fields: {sorted(unknown)}")
        return cls(**data)
