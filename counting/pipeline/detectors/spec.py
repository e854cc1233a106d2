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
from counting.pipeline.detectors.precision import backend_label

#: What identifies one loaded model: path, backend, input side, threshold, SHA-256, precision.
SpecKey = tuple[str, str, int | None, float, str, str]


@dataclass(frozen=True)
class DetectorSpec:
    """A detector to load: model file, expected SHA-256 (checked at load when set), backend,
    input side, score threshold, precision (float32 or bfloat16, already resolved from
    ``auto`` on the node that runs it) and the label stored on every count event it produces."""

    model_path: str
    backend: str = "torch"
    input_size: int | None = 480
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    sha256: str = ""
    #: The registry's name for it ("yolox-nano 1.0"); empty for a model given by settings.
    label: str = ""
    precision: str = "float32"

    def key(self) -> SpecKey:
        """What identifies one loaded model (specs with equal keys share it)."""
        return (str(Path(self.model_path)), self.backend, self.input_size,
                self.score_threshold, self.sha256, self.precision)

    @property
    def backend_label(self) -> str:
        """The backend as its counts store it (``torch``, ``torch-bf16``)."""
        return backend_label(self.backend, self.precision)

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


def create_detector_from_spec(spec: DetectorSpec, *, device: str | None = None,
                              threads: int | None = None) -> Any:
    """Load the detector a spec names: refuse non-data formats, check the SHA-256 when the spec
    carries one (a registry model), build it, and label it with the registry's name and the
    digest (``"yolox-nano 1.0 695e750a5d57 torch 480"``) when the spec has a label."""
    from counting.pipeline.detectors.base import check_model_file, create_detector
    from counting.pipeline.detectors.model_file import check_model_format, verify_sha256

    path = check_model_file(spec.model_path)
    suffix = path.suffix.lower()
    if spec.sha256 or suffix != ".onnx":
        check_model_format(path, "safetensors" if suffix == ".safetensors" else "onnx")
    if suffix == ".safetensors":
        raise safetensors_refusal(path)
    digest = verify_sha256(path, spec.sha256) if spec.sha256 else ""
    detector = create_detector(path, backend=spec.backend,  # type: ignore[arg-type]
                               score_threshold=spec.score_threshold, device=device,
                               threads=threads, input_size=spec.input_size,
                               precision=spec.precision)
    if spec.label:
        detector.version = registry_version(spec.label, digest, detector.name,
                                            detector.input_size)
    return detector


def registry_version(label: str, digest: str, backend: str, input_size: int) -> str:
    """What a count event stores for a registry model: its label, the first 12 hex digits of
    its SHA-256, the backend and the input side (at most 64 characters: the label is cut)."""
    tail = f" {digest[:12]} {backend} {input_size}"
    return f"{label[:64 - len(tail)]}{tail}"


def safetensors_refusal(path: Path) -> Exception:
    """The refusal for safetensors weights (docs/pipeline.md, "Model registry")."""
    from counting.pipeline.detectors.base import ModelError

    return ModelError(
        f"{path.name}: safetensors weights are not loadable yet: the YOLOX-Nano graph is read "
        "from its ONNX file and no safetensors-to-graph mapping exists. Register the ONNX "
        "export of the model instead")
