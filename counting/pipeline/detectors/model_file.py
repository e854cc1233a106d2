"""Checks on a detector model file before anything loads it: data formats only, the expected
checksum, and the outputs of a YOLOX detector.

Nothing here unpickles: a file that looks like a pickle or a PyTorch archive (``.pt``,
``.pth``, ``.ckpt``, ``.pkl``, ``.bin``, or the pickle / zip magic bytes) is refused before
it is opened by any loader.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from counting.pipeline.detectors.base import ModelError

FORMATS = ("onnx", "safetensors")
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".joblib",
                             ".npy", ".npz", ".tar"})
_SUFFIX = {"onnx": ".onnx", "safetensors": ".safetensors"}


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> str:
    """The file's SHA-256; :class:`ModelError` unless it is ``expected`` (when given)."""
    actual = sha256_file(path)
    if expected and actual != expected.lower():
        raise ModelError(
            f"checksum mismatch for {path}: expected sha256 {expected}, the file has {actual}. "
            "The file on this node is not the registered one: copy the registered file into "
            "the model store again (or register this file as a new version)")
    return actual


def check_model_format(path: str | Path, fmt: str) -> None:
    """Refuse anything but the declared data format: unknown formats, pickle-based files
    (by name or by content) and files whose content does not match ``fmt``."""
    p = Path(path)
    if fmt not in FORMATS:
        raise ModelError(f"unknown model format {fmt!r}: only {', '.join(FORMATS)} are loaded")
    suffix = p.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise ModelError(
            f"{p.name}: '{suffix}' files are pickle-based (arbitrary code runs when they are "
            "loaded) and are never loaded; export the model to ONNX")
    if suffix != _SUFFIX[fmt]:
        raise ModelError(f"{p.name}: a {fmt} model must be a '{_SUFFIX[fmt]}' file")
    with open(p, "rb") as fh:
        head = fh.read(16)
    if head[:1] == b"\x80" or head[:4] == b"PK\x03\x04":
        raise ModelError(
            f"{p.name} is a pickle or a zip archive (a PyTorch checkpoint?), not {fmt}; "
            "pickles are never loaded: export the model to ONNX")
    if fmt == "safetensors":
        _check_safetensors_header(p, head)


def _check_safetensors_header(path: Path, head: bytes) -> None:
    """A safetensors file starts with a little-endian u64 header length and a JSON header."""
    if len(head) < 9:
        raise ModelError(f"{path.name} is too short to be a safetensors file")
    (length,) = struct.unpack("<Q", head[:8])
    if not 2 <= length <= 100_000_000 or length > path.stat().st_size - 8:
        raise ModelError(f"{path.name} is not a safetensors file (bad header length)")
    with open(path, "rb") as fh:
        fh.seek(8)
        try:
            json.loads(fh.read(length))
        except ValueError as exc:
            raise ModelError(f"{path.name} is not a safetensors file ({exc})") from exc


def check_yolox_outputs(path: str | Path, classes: int) -> None:
    """The ONNX graph has one image input with 3 channels and one output of
    ``[batch, anchors, 5 + classes]`` (YOLOX's raw head), or :class:`ModelError`."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's own errors: not an ONNX file at all
        raise ModelError(f"{Path(path).name} is not a readable ONNX file: {exc}") from exc
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]

    def dims(value: onnx.ValueInfoProto) -> list[int | str]:
        return [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]

    if len(inputs) != 1 or len(dims(inputs[0])) != 4 or dims(inputs[0])[1] != 3:
        raise ModelError(f"{Path(path).name}: expected one image input [batch, 3, H, W], got "
                         f"{[(i.name, dims(i)) for i in inputs]}")
    if len(graph.output) != 1:
        raise ModelError(f"{Path(path).name}: expected one output, got {len(graph.output)}")
    out = dims(graph.output[0])
    if len(out) != 3 or out[2] != 5 + classes:
        raise ModelError(
            f"{Path(path).name}: expected the YOLOX output [batch, anchors, {5 + classes}] "
            f"(box, objectness and {classes} classes), got {out}")
