"""The detector's input size: run the exported YOLOX graph on another square input.

YOLOX is fully convolutional and its head reshapes to ``[N, 85, -1]``, so the same weights run on
any square input whose side is a multiple of the largest stride (32); only the declared input
and output shapes of the ONNX file name 416. :func:`with_input_size` rewrites those declarations,
and both backends load the rewritten model, so torch and ONNX Runtime still run the same model
on the same input.

Why it matters (``make eval``, PETS09-S2L1 at 480x360, 680 random segments over five seeds):
frames letterboxed to 416 are resampled by 0.867, and the counts are best when the detector sees
the stream's own pixels (480). Sizes that resample by other ratios (448, 512, 544) are no better
than 416. docs/pipeline.md has the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # onnx is imported by the backends, not by the cheap factory module
    import onnx

#: The largest YOLOX stride: the input side must be a multiple of it.
MAX_STRIDE = 32
MIN_INPUT_SIZE = 128
MAX_INPUT_SIZE = 1280
#: What :func:`~counting.pipeline.detectors.create_detector` uses unless told otherwise: the width
#: of the evaluation footage and of the demo camera, where it scores best (see above). A
#: deployment whose cameras are wider or narrower sets ``COUNTING_DETECTOR_INPUT_SIZE``.
DEFAULT_INPUT_SIZE = 480


def check_input_size(size: int) -> int:
    """``size`` if it is usable, else a ValueError that says which values are."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise ValueError(f"detector input size must be an integer, got {size!r}")
    if not (MIN_INPUT_SIZE <= size <= MAX_INPUT_SIZE) or size % MAX_STRIDE:
        raise ValueError(
            f"detector input size must be a multiple of {MAX_STRIDE} between {MIN_INPUT_SIZE} "
            f"and {MAX_INPUT_SIZE} (for example 416, the model's own, or 480 for a stream "
            f"480 pixels wide), got {size}"
        )
    return size


def with_input_size(model: onnx.ModelProto, size: int) -> onnx.ModelProto:
    """A copy of ``model`` whose single image input is declared ``[N, 3, size, size]`` and
    whose outputs have no fixed anchor count (it follows from the input size)."""
    import onnx

    check_input_size(size)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    initializers = {i.name for i in out.graph.initializer}
    inputs = [i for i in out.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ValueError(f"expected one graph input, found {[i.name for i in inputs]}")
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ValueError(f"expected an NCHW image input, found {len(dims)} dimensions")
    for axis in (2, 3):
        dims[axis].Clear()
        dims[axis].dim_value = size
    for output in out.graph.output:
        for axis, dim in enumerate(output.type.tensor_type.shape.dim):
            if axis == 1:
                dim.Clear()
                dim.dim_param = "anchors"
    del out.graph.value_info[:]  # inferred shapes for the old size
    return out
