"""The evaluation's process pool gives exactly the serial numbers, and shows its progress."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from counting.pipeline.evaluation.parallel import detect_video_parallel, pool_map
from counting.pipeline.evaluation.pets import EVAL_LINES, load_gt
from counting.pipeline.evaluation.progress import Progress
from counting.pipeline.evaluation.scoring import reference_score


def test_two_workers_detect_exactly_what_one_does(pets_video: Path, model_path: Path,
                                                  pets_gt: Path) -> None:
    # given the first 8 frames, ONNX Runtime at one thread, at the model's own 416 input
    kwargs = {"backend": "onnxruntime", "threads": 1, "input_size": None, "limit": 8}
    # when they are detected in this process and by two spawned workers (frames dealt 0,2,4..
    # and 1,3,5..), the workers reporting progress on a non-terminal stream
    serial_dets, serial_times = detect_video_parallel(pets_video, model_path, 0.3, workers=1,
                                                      **kwargs)  # type: ignore[arg-type]
    shown = io.StringIO()
    dets, times = detect_video_parallel(pets_video, model_path, 0.3, workers=2,
                                        progress=Progress(shown),
                                        **kwargs)  # type: ignore[arg-type]
    # then every frame has the same time and bit-identical boxes and scores
    assert times == serial_times and len(times) == 8
    for got, want in zip(dets, serial_dets, strict=True):
        assert np.array_equal(got.xyxy, want.xyxy) and np.array_equal(got.scores, want.scores)
    assert sum(len(d) for d in dets) > 8  # people were found: the comparison is not empty
    # and the score computed from them is the same
    gt = load_gt(pets_gt)
    assert (reference_score(dets, times, gt, EVAL_LINES, 0.3)
            == reference_score(serial_dets, serial_times, gt, EVAL_LINES, 0.3))
    # and the plain progress is a few whole lines ending at 8/8, no carriage returns
    lines = shown.getvalue().splitlines()
    assert lines[0].startswith("detecting: 0/8") and lines[-1].startswith("detecting: 8/8")
    assert "\r" not in shown.getvalue() and len(lines) <= 6


def _square(x: int) -> int:
    return x * x


def test_a_terminal_gets_one_redrawn_progress_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown = Tty()
    assert pool_map(_square, [3, 1, 2], workers=1, progress=Progress(shown),
                    label="squares") == [9, 1, 4]
    text = shown.getvalue()
    assert text.startswith("\rsquares: 0/3") and "squares: 3/3" in text and text.endswith("\n")
    assert text.count("\n") == 1
