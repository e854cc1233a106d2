"""count_video: argument parsing, the pure-Python runner and the management command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from counting.pipeline.cli import CountVideoError, parse_rules, run_count_video

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("lines", "zones", "message"),
    [
        ([], [], "nothing to count"),  # no rule at all
        (["door"], [], "expected NAME:x1,y1,x2,y2"),  # no coordinates
        ([":0,0,1,1"], [], "expected NAME:x1,y1,x2,y2"),  # no name
        (["door:0.5,0,0.5"], [], "expected 4 numbers, got 3"),  # too few numbers
        (["door:a,b,c,d"], [], "must be numbers"),  # not numbers
        (["door:240,0,240,360"], [], "outside 0..1"),  # pixels instead of fractions
        (["door:0.5,0.5,0.5,0.5"], [], "same point"),  # a point, not a segment
        (["a:0,0,1,1", "a:0,1,1,0"], [], "duplicate line name"),  # names must be unique
        ([], ["z:0,0;1,0"], "at least 3 points"),  # a zone needs an area
        ([], ["z:0,0;1,1;1,0;0,1"], "crossing edges"),  # bow-tie polygon
        ([], ["z:0,0;1,0;nan,1"], "outside 0..1"),  # NaN coordinate
    ],
)
def test_bad_arguments_explain_the_fix(lines: list[str], zones: list[str], message: str) -> None:
    with pytest.raises(CountVideoError, match=message):
        parse_rules(lines, zones)


def test_parse_good_rules() -> None:
    lines, zones = parse_rules(["door:0.5,0,0.5,1"], ["till:0.1,0.1;0.4,0.1;0.4,0.5"])
    assert (lines[0].key, lines[0].start, lines[0].end) == ("door", (0.5, 0.0), (0.5, 1.0))
    assert zones[0].points == ((0.1, 0.1), (0.4, 0.1), (0.4, 0.5))


def test_missing_source_and_model(tmp_path: Path, model_path: Path) -> None:
    with pytest.raises(CountVideoError, match="video file not found"):
        run_count_video(str(tmp_path / "x.mp4"), lines=["a:0,0,1,1"], model_path=model_path)


def test_missing_model(pets_video: Path, tmp_path: Path) -> None:
    with pytest.raises(CountVideoError, match="model file not found"):
        run_count_video(str(pets_video), lines=["a:0,0,1,1"], model_path=tmp_path / "m.onnx")


def test_run_count_video_on_pets(pets_video: Path, model_path: Path) -> None:
    # given the PETS video analysed at 1 fps with one line and one zone
    result = run_count_video(
        str(pets_video),
        lines=["mid:0.5,0,0.5,1"],
        zones=["left:0,0;0.5,0;0.5,1;0,1"],
        model_path=model_path,
        detect_fps=1.0,
        threads=2,
    )
    # then the summary has the documented shape and sane numbers
    assert set(result) >= {"lines", "zones", "events", "frames", "seconds", "fps"}
    assert result["frames"] == 795 and result["analysed_frames"] == 114
    assert [line["name"] for line in result["lines"]] == ["mid"]
    assert result["lines"][0]["in"] + result["lines"][0]["out"] == len(result["events"])
    assert result["zones"][0]["max_occupancy"] >= 1
    assert all(set(e) == {"line", "track", "direction", "frame", "time"} for e in result["events"])


@pytest.mark.skipif(not (REPO / "manage.py").exists(), reason="manage.py not present")
def test_management_command_json(pets_video: Path, model_path: Path) -> None:
    # when the command runs as a subprocess at 0.5 fps with --json
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "count_video",
            str(pets_video),
            "--line",
            "mid:0.5,0,0.5,1",
            "--model",
            str(model_path),
            "--detect-fps",
            "0.5",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    # then it prints one JSON object
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["frames"] == 795 and result["lines"][0]["name"] == "mid"


@pytest.mark.skipif(not (REPO / "manage.py").exists(), reason="manage.py not present")
def test_management_command_bad_argument() -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", "count_video", "video.mp4", "--line", "door:1,2,3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "CommandError: --line 'door:1,2,3': expected 4 numbers, got 3" in proc.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sign", "--ignore 'sign': expected NAME:x1,y1;x2,y2;x3,y3"),  # no coordinates
        ("sign:0,0;1,0", "at least 3 points"),  # no area
        ("sign:0,0;20,0;20,30", "outside 0..1"),  # pixels instead of fractions
    ],
)
def test_bad_ignore_regions_explain_the_fix(spec: str, message: str) -> None:
    from counting.pipeline.cli import parse_mask

    with pytest.raises(CountVideoError, match=message):
        parse_mask(spec)


def test_repeated_ignore_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CountVideoError, match="duplicate ignore region name"):
        run_count_video(
            str(tmp_path / "x.mp4"),
            lines=["a:0,0,1,1"],
            ignore=["s:0,0;0.1,0;0.1,0.1", "s:0.5,0.5;0.6,0.5;0.6,0.6"],
            model_path=tmp_path / "m.onnx",
        )


@pytest.mark.parametrize("size", [400, 0, 4096])
def test_bad_input_size_is_refused_before_anything_loads(
    pets_video: Path, model_path: Path, size: int
) -> None:
    # given an input size that is not a multiple of 32 within 128..1280
    # then count_video says which sizes work, before opening the video or loading the model
    with pytest.raises(CountVideoError, match="--input-size: .*multiple of 32 between 128"):
        run_count_video(
            str(pets_video), lines=["a:0,0,1,1"], model_path=model_path, input_size=size
        )


def test_management_command_input_size(pets_video: Path, model_path: Path) -> None:
    # when the command runs with the model's own input size, then it counts as before
    proc = subprocess.run(
        [sys.executable, "manage.py", "count_video", str(pets_video), "--line",
         "mid:0.5,0,0.5,1", "--model", str(model_path), "--detect-fps", "0.5",
         "--input-size", "416", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["frames"] == 795
    # and 0 means the model's own size, as in COUNTING_DETECTOR_INPUT_SIZE and make eval
    zero = subprocess.run(
        [sys.executable, "manage.py", "count_video", str(pets_video), "--line",
         "mid:0.5,0,0.5,1", "--model", str(model_path), "--detect-fps", "0.5",
         "--input-size", "0", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert zero.returncode == 0, zero.stderr
    counted = ("lines", "zones", "events", "frames")
    assert {k: json.loads(zero.stdout)[k] for k in counted} == {
        k: json.loads(proc.stdout)[k] for k in counted
    }
    # and a bad one is a CommandError that names the option
    bad = subprocess.run(
        [sys.executable, "manage.py", "count_video", str(pets_video), "--line",
         "mid:0.5,0,0.5,1", "--input-size", "500"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )
    assert bad.returncode != 0
    assert "CommandError: --input-size: detector input size must be a multiple of 32" in bad.stderr


def test_count_video_in_bfloat16(pets_video: Path, model_path: Path) -> None:
    # given the PETS video counted at 3 fps on one line in float32 and in bfloat16
    common = {"lines": ["mid:0.5,0,0.5,1"], "model_path": model_path, "detect_fps": 3.0}
    fp32 = run_count_video(str(pets_video), **common)  # type: ignore[arg-type]
    bf16 = run_count_video(str(pets_video), precision="bfloat16", **common)  # type: ignore[arg-type]
    # then the summary says which format counted
    assert fp32["detector"] == "yolox_nano 695e750a5d57 torch 480"
    assert bf16["detector"] == "yolox_nano 695e750a5d57 torch-bf16 480"
    # and the counts agree within one crossing per direction
    a, b = fp32["lines"][0], bf16["lines"][0]
    assert a["in"] + a["out"] > 20
    assert abs(a["in"] - b["in"]) <= 1 and abs(a["out"] - b["out"]) <= 1


@pytest.mark.parametrize(("precision", "backend", "message"), [
    ("half", "torch", "--precision: detector precision must be one of auto, float32, bfloat16"),
    ("bfloat16", "onnxruntime", "--precision: bfloat16 precision needs the torch backend"),
])
def test_bad_precision_is_refused_before_anything_loads(
    tmp_path: Path, precision: str, backend: str, message: str
) -> None:
    # given a precision that is not one (the video and model do not even exist: nothing opens)
    with pytest.raises(CountVideoError, match=message):
        run_count_video(str(tmp_path / "none.mp4"), lines=["a:0,0,1,1"],
                        model_path=tmp_path / "m.onnx", backend=backend, precision=precision)


def test_bad_workers_are_refused_before_anything_loads(tmp_path: Path) -> None:
    with pytest.raises(CountVideoError, match="--workers must be 1 or more, got 0"):
        run_count_video(str(tmp_path / "none.mp4"), lines=["a:0,0,1,1"],
                        model_path=tmp_path / "m.onnx", workers=0)
