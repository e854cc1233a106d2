"""Start-up checks of the detector settings (``manage.py check``, ``migrate``, ``runserver``).

A stream worker loads the detector when its first camera starts; a wrong setting found only
then would show as a camera error minutes after deployment. These checks say what is wrong
and how to fix it when the project starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from django.conf import settings
from django.core.checks import Error, Warning, register

from counting.pipeline.detectors.base import Backend
from counting.pipeline.detectors.input_size import check_input_size
from counting.pipeline.detectors.precision import check_precision, resolve_precision

BACKENDS: tuple[str, ...] = get_args(Backend)


@register()
def detector_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """Errors for an unusable input size or backend; a warning for a missing model file (tests
    and the web process run without it; stream workers cannot)."""
    problems: list[Error | Warning] = []
    size = getattr(settings, "COUNTING_DETECTOR_INPUT_SIZE", None)
    if size is not None:
        try:
            check_input_size(size)
        except ValueError as exc:
            problems.append(Error(
                f"COUNTING_DETECTOR_INPUT_SIZE: {exc}",
                hint="Set it to a multiple of 32 such as 480 (or 0 for the model's own 416).",
                id="counting.E001"))
    backend = getattr(settings, "COUNTING_DETECTOR_BACKEND", "torch")
    if backend not in BACKENDS:
        problems.append(Error(
            f"COUNTING_DETECTOR_BACKEND is {backend!r}, which is not a detector backend",
            hint=f"Set it to one of: {', '.join(BACKENDS)}.", id="counting.E002"))
    inference = getattr(settings, "COUNTING_INFERENCE", "local")
    if inference not in ("service", "local"):
        problems.append(Error(
            f"COUNTING_INFERENCE is {inference!r}, which is not an inference mode",
            hint="Set it to 'service' (one inference process per node) or 'local' (a detector "
                 "in each stream process).", id="counting.E003"))
    precision = getattr(settings, "COUNTING_DETECTOR_PRECISION", "float32")
    try:  # "auto" is always usable (and resolving it would import torch here)
        if check_precision(precision) != "auto":
            resolve_precision(precision, backend)
    except ValueError as exc:
        problems.append(Error(
            f"COUNTING_DETECTOR_PRECISION: {exc}",
            hint="Set it to float32, or auto (bfloat16 where the CPU has AMX tiles).",
            id="counting.E004"))
    model = getattr(settings, "COUNTING_MODEL_PATH", None)
    if model is not None and not Path(model).is_file():
        problems.append(Warning(
            f"COUNTING_MODEL_PATH {model} is not a file; stream workers cannot count",
            hint="Point COUNTING_MODEL_PATH (or SHARED_DIR) at yolox_nano.onnx.",
            id="counting.W001"))
    return problems
