"""The frame sampler: analyse at detect_fps, skip the rest."""

from __future__ import annotations

import math

import pytest

from counting.pipeline.sampler import FrameSampler


def accepted(fps: float | None, times: list[float]) -> list[int]:
    sampler = FrameSampler(fps)
    return [i for i, t in enumerate(times) if sampler.accept(t)]


@pytest.mark.parametrize(
    ("detect_fps", "source_fps", "n", "expected"),
    [
        (5.0, 25.0, 16, [0, 5, 10, 15]),  # every 5th frame of a 25 fps file
        (7.0, 7.0, 5, [0, 1, 2, 3, 4]),  # native rate: every frame (7 fps periods are inexact)
        (None, 30.0, 4, [0, 1, 2, 3]),  # no limit: every frame
        (30.0, 10.0, 4, [0, 1, 2, 3]),  # faster than the source: every frame
        (2.0, 5.0, 11, [0, 3, 5, 8, 10]),  # non-integer ratio keeps the average rate, no drift
    ],
)
def test_sampling_rates(
    detect_fps: float | None, source_fps: float, n: int, expected: list[int]
) -> None:
    # given frames at source_fps when sampled at detect_fps then these are analysed
    assert accepted(detect_fps, [i / source_fps for i in range(n)]) == expected


def test_gap_restarts_schedule_without_burst() -> None:
    # given a 10 fps stream sampled at 2 fps that stalls for 5 s
    times = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 5.5, 5.6, 5.7, 5.8, 5.9, 6.0]
    # then after the gap one frame is analysed, then the normal rate resumes
    assert accepted(2.0, times) == [0, 5, 6, 11]


def test_time_going_backwards_restarts() -> None:
    # given a looped file (time jumps back to 0)
    times = [0.0, 0.5, 1.0, 0.0, 0.5]
    # then the first frame after the jump is analysed
    assert accepted(2.0, times) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_invalid_rate(bad: float) -> None:
    with pytest.raises(ValueError, match="detect_fps"):
        FrameSampler(bad)
