"""The number format the torch detector computes in: float32, or bfloat16 where it pays.

YOLOX-Nano's convolutions are most of a frame's cost. On a CPU with AMX tiles (Intel Xeon 4th
generation and later) oneDNN runs bfloat16 convolutions on the tile unit: measured here at 480
on one thread, 12.3-12.6 ms per frame in batches of 8 against 23.9-25.8 ms in float32, and
20.8-21.4 against 27.1-27.2 ms for a single frame (docs/pipeline.md, "Precision"). Without AMX
bfloat16 is emulated and slower, so ``auto`` keeps float32 there.

bfloat16 keeps float32's range with 8 bits of mantissa: box coordinates move by up to about
1 px at 480 and scores by ~0.01, so the counts are not bit-identical to float32's. Which one
produced a count is stored with it: the backend label is ``torch-bf16`` (see
:func:`backend_label`). Plain Python and torch; no Django.
"""

from __future__ import annotations

import functools
from typing import Literal

Precision = Literal["float32", "bfloat16"]
#: What settings and command lines accept.
PRECISION_CHOICES = ("auto", "float32", "bfloat16")


def check_precision(name: str) -> str:
    """``name`` if it is one of :data:`PRECISION_CHOICES`, else a ValueError that lists them."""
    if name not in PRECISION_CHOICES:
        raise ValueError(
            f"detector precision must be one of {', '.join(PRECISION_CHOICES)}, got {name!r} "
            "(auto: bfloat16 where the CPU has AMX tiles, float32 elsewhere)"
        )
    return name


@functools.cache
def has_native_bfloat16() -> bool:
    """True on a CPU whose AMX tiles run oneDNN's bfloat16 convolutions (asked once per
    process: runners resolve ``auto`` on every model-choice poll)."""
    import torch

    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(amx and amx() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(name: str, backend: str = "torch") -> Precision:
    """The concrete precision for a setting: ``auto`` becomes bfloat16 for the torch backend on
    a CPU with AMX, float32 otherwise. bfloat16 on ONNX Runtime is refused (it runs float32)."""
    check_precision(name)
    if name == "auto":
        return "bfloat16" if backend == "torch" and has_native_bfloat16() else "float32"
    if name == "bfloat16" and backend != "torch":
        raise ValueError(
            f"bfloat16 precision needs the torch backend; {backend!r} computes in float32 "
            "(set the precision to float32 or auto)"
        )
    return "bfloat16" if name == "bfloat16" else "float32"


def backend_label(backend: str, precision: str) -> str:
    """The backend as stored in a count's ``model_version``: ``torch``, ``torch-bf16``..."""
    return f"{backend}-bf16" if precision == "bfloat16" else backend
