"""The yardstick of every chaos case: ``count_video`` on the very frames the live stream played.

A case ends with :func:`compare_counts`: per line and direction, the stored counts against
count_video's, where whatever is missing must equal what the system itself reported as lost
(``CameraHealth.events_lost``), within the jitter a live stream has even without faults (see
tests/streams/test_stream_e2e.py: the first frame is FFmpeg's probe, tracks pending at the end,
reception-time jitter), and nothing may be counted twice.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The two lines of tests/streams/conftest.py::make_camera, in count_video's spec format.
PETS_LINES = ("east-west:0.5,0,0.5,1", f"north-south:0,{200 / 360},1,{200 / 360}")

Counts = dict[str, dict[str, int]]


def pets_segment(source: Path, path: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` as a near-lossless MJPG file, so that the
    camera simulator and count_video decode identical frames."""
    import cv2

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    try:
        for _ in range(frames):
            ok, image = cap.read()
            if not ok:
                raise ValueError(f"{source} has fewer than {frames} frames")
            if writer is None:
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                                         (image.shape[1], image.shape[0]))
                writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 100)
            writer.write(image)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    return path


_results: dict[tuple[str, tuple[str, ...], float | None], dict[str, Any]] = {}


def count_video_result(video: Path, lines: tuple[str, ...] = PETS_LINES,
                       detect_fps: float | None = None) -> dict[str, Any]:
    """``manage.py count_video --json`` on ``video`` (the settings' model, backend default and
    input size, one thread): its whole JSON answer. Computed once per test session for the
    same frames (file content), lines and rate: the stream and chaos modules each write the
    same PETS segment and compare against it."""
    from django.core.management import call_command

    key = (hashlib.sha256(video.read_bytes()).hexdigest(), tuple(lines), detect_fps)
    if key not in _results:
        out = io.StringIO()
        options: dict[str, Any] = {"line": list(lines), "json": True, "threads": 1,
                                   "stdout": out}
        if detect_fps is not None:
            options["detect_fps"] = detect_fps
        call_command("count_video", str(video), **options)
        _results[key] = json.loads(out.getvalue())
    return _results[key]


def reference_counts(video: Path, lines: tuple[str, ...] = PETS_LINES,
                     detect_fps: float | None = None) -> Counts:
    """In/out per line name of :func:`count_video_result`."""
    result = count_video_result(video, lines, detect_fps)
    return {line["name"]: {"in": int(line["in"]), "out": int(line["out"])}
            for line in result["lines"]}


@dataclass(frozen=True)
class CountComparison:
    """Stored counts against the reference, and what the system said it lost."""

    stored: Counts
    reference: Counts
    reported_lost: int
    jitter: int  # crossings a fault-free live stream may differ by over the whole clip
    # crossings the reported overload time may hide (an estimate: the reference's crossings
    # per second x the seconds the system reported not analysed in overload gaps)
    reported_overload: float = 0.0
    missing: int = field(init=False)  # reference crossings not stored
    extra: int = field(init=False)  # stored crossings beyond the reference (doubles)

    def __post_init__(self) -> None:
        missing = extra = 0
        for name, directions in self.reference.items():
            for direction, want in directions.items():
                got = self.stored.get(name, {}).get(direction, 0)
                missing += max(0, want - got)
                extra += max(0, got - want)
        for name, directions in self.stored.items():  # lines the reference never saw
            if name not in self.reference:
                extra += sum(directions.values())
        object.__setattr__(self, "missing", missing)
        object.__setattr__(self, "extra", extra)

    @property
    def unexplained_loss(self) -> int:
        """Crossings missing beyond those the system reported as lost (silent losses)."""
        return self.missing - self.reported_lost

    def problems(self) -> list[str]:
        """Why the stored counts are not explained by the reported losses (empty if they are)."""
        found = []
        if self.extra > self.jitter:
            found.append(f"{self.extra} crossings stored beyond count_video's (doubled?), "
                         f"more than the {self.jitter} a live stream may differ by")
        allowed_missing = self.jitter + math.ceil(self.reported_overload)
        if not -self.jitter <= self.unexplained_loss <= allowed_missing:
            found.append(f"{self.missing} crossings missing but {self.reported_lost} reported "
                         f"lost and {self.reported_overload:.1f} in reported overload time "
                         f"(difference {self.unexplained_loss}, allowed -{self.jitter}.."
                         f"{allowed_missing})")
        return found

    def __str__(self) -> str:
        return (f"stored={self.stored} reference={self.reference} missing={self.missing} "
                f"extra={self.extra} reported_lost={self.reported_lost} jitter={self.jitter} "
                f"reported_overload={self.reported_overload:.1f}")


def compare_counts(*, stored: Counts, reference: Counts, reported_lost: int,
                   frames_dropped: int = 0, overload_s: float = 0.0,
                   clip_s: float = 0.0) -> CountComparison:
    """Compare as tests/streams/test_stream_e2e.py does without faults: two crossings of
    jitter over the clip, two more if live sampling dropped frames; and up to the reference's
    crossings in ``overload_s`` (seconds reported not analysed in overload gaps, of a clip of
    ``clip_s`` seconds) more may be missing."""
    jitter = 2 + (2 if frames_dropped else 0)
    total = sum(sum(directions.values()) for directions in reference.values())
    overload = total * overload_s / clip_s if clip_s > 0 else 0.0
    return CountComparison(stored=stored, reference=reference, reported_lost=reported_lost,
                           jitter=jitter, reported_overload=overload)


def assert_counts_explained(comparison: CountComparison, context: str = "") -> None:
    problems = comparison.problems()
    assert not problems, f"{'; '.join(problems)}\n{comparison}\n{context}"


def overload_unanalysed_s(tenant: Any, camera_id: int) -> float:
    """Seconds the camera's overload gaps say were not analysed (an open one: all of it)."""
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from counting.models import CameraGap

    with tenant_context(tenant):
        gaps = list(CameraGap.objects.filter(camera_id=camera_id, cause="overload"))
    now = timezone.now()
    return sum(((g.ended_at or now) - g.started_at).total_seconds()
               * (1.0 - (g.analysed_share or 0.0)) for g in gaps)


def camera_outcome(tenant: Any, camera_id: int) -> tuple[Counts, int, int]:
    """Stored counts per line and direction, events reported lost, frames dropped."""
    from tests.streams.conftest import health_of, line_counts

    health = health_of(tenant, camera_id)
    lost = int(health.events_lost) if health is not None else 0
    dropped = int(health.frames_dropped) if health is not None else 0
    return line_counts(tenant, camera_id), lost, dropped
