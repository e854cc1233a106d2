"""Shared helpers for the PETS09-S2L1 evaluation and benchmark: the command-line options.

The footage, its ground truth and the detection pass moved to
:mod:`counting.pipeline.evaluation.pets` (the model registry scores with them too); they are
re-exported here for the benchmarks and tests that import them from this module.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from counting.pipeline.detectors.input_size import DEFAULT_INPUT_SIZE
from counting.pipeline.detectors.precision import PRECISION_CHOICES
from counting.pipeline.evaluation.pets import (
    EVAL_LINES,
    EVAL_ZONES,
    HEIGHT,
    SIGN_MASK,
    WIDTH,
    PetsPaths,
    accuracy,
    detect_video,
    gt_boxes_by_frame,
    gt_crossings,
    gt_occupancy,
    gt_zone_transitions,
    load_gt,
    pixel_line,
    pixel_polygon,
    random_lines,
)

__all__ = [
    "EVAL_LINES", "EVAL_ZONES", "HEIGHT", "REPO", "SIGN_MASK", "WIDTH", "PetsPaths",
    "accuracy", "add_input_size_argument", "add_precision_argument", "add_shared_argument",
    "default_shared",
    "detect_video", "gt_boxes_by_frame", "gt_crossings", "gt_occupancy", "gt_zone_transitions",
    "input_size_option", "load_gt", "pixel_line", "pixel_polygon", "random_lines",
]

REPO = Path(__file__).resolve().parents[1]


def default_shared() -> Path:
    """``SHARED_DIR`` or ``<repo>/../shared``."""
    return Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))


def add_input_size_argument(parser: argparse.ArgumentParser) -> None:
    """The common ``--input-size N`` option (the detector's square input; 0: the model's own)."""
    parser.add_argument(
        "--input-size",
        type=int,
        default=DEFAULT_INPUT_SIZE,
        help=f"detector input side, a multiple of 32 (default {DEFAULT_INPUT_SIZE}, the "
        "product's; 0: the model's own 416)",
    )


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    """The common ``--precision`` option (the torch detector's number format)."""
    parser.add_argument(
        "--precision", choices=PRECISION_CHOICES, default="float32",
        help="torch detector precision (default float32; bfloat16 runs on AMX tiles where the "
        "CPU has them, auto picks it there)")


def input_size_option(value: int) -> int | None:
    """``--input-size`` as ``create_detector`` takes it (0 -> None, the model's own)."""
    return value or None


def add_shared_argument(parser: argparse.ArgumentParser) -> None:
    """The common ``--shared PATH`` option."""
    parser.add_argument(
        "--shared",
        type=Path,
        default=default_shared(),
        help="the shared data directory (default: SHARED_DIR or ../shared)",
    )
