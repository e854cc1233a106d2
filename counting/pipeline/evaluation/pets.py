"""The reference footage (PETS09-S2L1) and its ground truth: evaluation lines and zones, the
annotated crossings, occupancy and transitions, and the detection pass over a video.

Used by ``make eval`` (benchmarks/eval_counting.py), ``make bench`` and the model registry's
evaluation at registration (counting.model_registry), so that all of them score alike.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from counting.pipeline.detectors.input_size import DEFAULT_INPUT_SIZE
from counting.pipeline.geometry import crossing_parameter, polygon_signed_distance, side_value
from counting.pipeline.specs import LineSpec, MaskSpec, ZoneSpec
from counting.pipeline.types import Detections, Point

WIDTH, HEIGHT = 480, 360

#: Evaluation lines in normalised coordinates. "in" = from the segment's left to its right
#: (see counting.pipeline.geometry): for a top-to-bottom line that is right-to-left, for a
#: left-to-right line it is downwards.
EVAL_LINES: tuple[LineSpec, ...] = (
    LineSpec(key="v240", name="x=240 full height", start=(0.5, 0.0), end=(0.5, 1.0)),
    LineSpec(key="h200", name="y=200 full width", start=(0.0, 200 / 360), end=(1.0, 200 / 360)),
    LineSpec(key="diag", name="diagonal", start=(0.15, 0.25), end=(0.85, 0.95)),
    LineSpec(
        key="v150p",
        name="x=150 y 120..300",
        start=(150 / 480, 120 / 360),
        end=(150 / 480, 300 / 360),
    ),
    LineSpec(
        key="v300p", name="x=300 y 60..240", start=(300 / 480, 60 / 360), end=(300 / 480, 240 / 360)
    ),
    LineSpec(key="h150", name="y=150 full width", start=(0.0, 150 / 360), end=(1.0, 150 / 360)),
)

#: Evaluation zones. "left half" holds a blue information sign at (25, 88) px that the detector
#: takes for a person in every frame: its occupancy is one too high throughout, which the
#: annotation (people only) shows.
EVAL_ZONES: tuple[ZoneSpec, ...] = (
    ZoneSpec(
        key="centre", name="centre", points=((0.3, 0.35), (0.7, 0.35), (0.7, 0.75), (0.3, 0.75))
    ),
    ZoneSpec(
        key="quad", name="quadrilateral", points=((0.2, 0.3), (0.6, 0.25), (0.8, 0.7), (0.35, 0.8))
    ),
    ZoneSpec(
        key="band",
        name="y 72..162 band",
        points=((0.05, 0.2), (0.95, 0.2), (0.95, 0.45), (0.05, 0.45)),
    ),
    ZoneSpec(
        key="left", name="left half", points=((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
    ),
)

#: A mask over that sign (x 0..48 px, y 54..108 px): ``make eval`` also scores the left half
#: with it, as a user who draws an ignore region would see it.
SIGN_MASK = MaskSpec(
    key="sign", name="information sign", points=((0.0, 0.15), (0.1, 0.15), (0.1, 0.3), (0.0, 0.3))
)


@dataclass(frozen=True)
class PetsPaths:
    """Locations of the PETS footage and the model under the shared directory."""

    video: Path
    gt: Path
    model: Path

    @staticmethod
    def from_shared(shared: Path) -> PetsPaths:
        """Paths under ``shared``; raises FileNotFoundError naming what is missing."""
        paths = PetsPaths(
            video=shared / "video/PETS09-S2L1/PETS09-S2L1.mp4",
            gt=shared / "video/PETS09-S2L1/gt.txt",
            model=shared / "models/yolox_nano.onnx",
        )
        for p in (paths.video, paths.gt, paths.model):
            if not p.is_file():
                raise FileNotFoundError(f"missing {p} (pass --shared PATH or set SHARED_DIR)")
        return paths


def load_gt(path: Path) -> dict[int, list[tuple[int, float, float, float, float]]]:
    """MOT gt: track id -> [(frame, left, top, width, height)] sorted by frame (1-based)."""
    tracks: dict[int, list[tuple[int, float, float, float, float]]] = defaultdict(list)
    for row in np.loadtxt(path, delimiter=",", ndmin=2):
        tracks[int(row[1])].append((int(row[0]), row[2], row[3], row[4], row[5]))
    for rows in tracks.values():
        rows.sort()
    return dict(tracks)


def gt_boxes_by_frame(path: Path) -> dict[int, np.ndarray]:
    """0-based frame index -> (N, 4) xyxy gt boxes."""
    out: dict[int, list[list[float]]] = defaultdict(list)
    for row in np.loadtxt(path, delimiter=",", ndmin=2):
        out[int(row[0]) - 1].append([row[2], row[3], row[2] + row[4], row[3] + row[5]])
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def gt_crossings(
    tracks: dict[int, list[tuple[int, float, float, float, float]]],
    start: Point,
    end: Point,
    band_px: float = 5.0,
) -> tuple[int, int]:
    """Ground-truth (in, out) for a pixel segment: foot point, +-band hysteresis, and only
    side changes whose path meets the segment itself."""
    count_in = count_out = 0
    for rows in tracks.values():
        side = 0
        last_clear: Point | None = None
        for _, left, top, w, h in rows:
            p = (left + w / 2, top + h)
            s = side_value(start, end, p)
            zone = 1 if s > band_px else (-1 if s < -band_px else 0)
            if zone == 0:
                continue
            if side == 0 or zone == side:
                side, last_clear = zone, p
                continue
            assert last_clear is not None
            t = crossing_parameter(start, end, last_clear, p)
            if t is not None and 0.0 <= t <= 1.0:
                if zone > 0:
                    count_in += 1
                else:
                    count_out += 1
            side, last_clear = zone, p
    return count_in, count_out


def pixel_line(spec: LineSpec) -> tuple[Point, Point]:
    """A spec's segment in PETS pixels."""
    return (
        (spec.start[0] * WIDTH, spec.start[1] * HEIGHT),
        (spec.end[0] * WIDTH, spec.end[1] * HEIGHT),
    )


def detect_video(
    video: Path,
    model: Path,
    score_threshold: float,
    backend: str = "torch",
    threads: int | None = None,
    batch: int = 1,
    input_size: int | None = DEFAULT_INPUT_SIZE,
    precision: str = "float32",
) -> tuple[list[Detections], list[float]]:
    """Detections and PTS of every frame of the video."""
    from counting.pipeline.detectors import create_detector
    from counting.pipeline.sources import FileSource

    detector = create_detector(
        model,
        backend=backend,  # type: ignore[arg-type]
        score_threshold=score_threshold,
        threads=threads,
        input_size=input_size,
        precision=precision,
    )
    dets: list[Detections] = []
    times: list[float] = []
    pending = []
    with FileSource(video) as src:
        for frame in src:
            pending.append(frame)
            if len(pending) == batch:
                dets.extend(detector.detect([f.image for f in pending]))
                times.extend(f.time for f in pending)
                pending = []
        if pending:
            dets.extend(detector.detect([f.image for f in pending]))
            times.extend(f.time for f in pending)
    return dets, times


def accuracy(gt_in: int, gt_out: int, got_in: int, got_out: int) -> float:
    """1 - (|in error| + |out error|) / (gt in + gt out)."""
    total = gt_in + gt_out
    if total == 0:
        return 1.0 if got_in + got_out == 0 else 0.0
    return 1.0 - (abs(got_in - gt_in) + abs(got_out - gt_out)) / total


def random_lines(
    gt_tracks: dict[int, list[tuple[int, float, float, float, float]]],
    seed: int,
    count: int,
    min_crossings: int = 6,
    min_length: float = 0.3,
    margin: float = 0.05,
) -> tuple[LineSpec, ...]:
    """``count`` random segments that people cross at least ``min_crossings`` times.

    A check against tuning to the six hand-drawn lines: endpoints are uniform in the frame
    less ``margin`` on each side, at least ``min_length`` apart (normalised), in every
    orientation, and many end among the walkers. Deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    lines: list[LineSpec] = []
    while len(lines) < count:
        start = rng.uniform(margin, 1.0 - margin, 2)
        end = rng.uniform(margin, 1.0 - margin, 2)
        if float(np.hypot(*(start - end))) < min_length:
            continue
        spec = LineSpec(
            key=f"rand{seed}_{len(lines)}",
            name=f"random {len(lines)}",
            start=(float(start[0]), float(start[1])),
            end=(float(end[0]), float(end[1])),
        )
        if sum(gt_crossings(gt_tracks, *pixel_line(spec))) >= min_crossings:
            lines.append(spec)
    return tuple(lines)


def pixel_polygon(spec: ZoneSpec) -> list[Point]:
    """A zone's polygon in PETS pixels."""
    return [(x * WIDTH, y * HEIGHT) for x, y in spec.points]


def gt_occupancy(
    tracks: dict[int, list[tuple[int, float, float, float, float]]], polygon: list[Point]
) -> dict[int, int]:
    """0-based frame index -> annotated people whose foot point is inside the polygon."""
    out: dict[int, int] = defaultdict(int)
    for rows in tracks.values():
        for frame, left, top, w, h in rows:
            if polygon_signed_distance(polygon, (left + w / 2, top + h)) > 0:
                out[frame - 1] += 1
    return out


def gt_zone_transitions(
    tracks: dict[int, list[tuple[int, float, float, float, float]]],
    polygon: list[Point],
    band_px: float = 5.0,
) -> tuple[int, int]:
    """Ground-truth (entries, exits): foot point, +-band hysteresis around the boundary; where a
    track is first seen sets its state without an event (as the zone counter does)."""
    entries = exits = 0
    for rows in tracks.values():
        inside: bool | None = None
        for _, left, top, w, h in rows:
            d = polygon_signed_distance(polygon, (left + w / 2, top + h))
            if -band_px <= d <= band_px:
                continue
            now = d > 0
            if inside is not None and now != inside:
                entries += now
                exits += not now
            inside = now
    return entries, exits
