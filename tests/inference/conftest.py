"""Fixtures for the inference service tests: no database; a real service process on a temporary
socket with the real model (skipped with the reason when the shared data is absent)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
VIDEO = SHARED / "video" / "PETS09-S2L1" / "PETS09-S2L1.mp4"
MODEL = SHARED / "models" / "yolox_nano.onnx"


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """Overrides the project-wide database fixture: these tests never touch a database."""
    yield


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (set SHARED_DIR to the shared directory)")
    return path


@pytest.fixture(scope="session")
def model_path() -> Path:
    return _need(MODEL)


@pytest.fixture(scope="session")
def pets_frames() -> list[np.ndarray]:
    """Four PETS09 frames, ten frames apart."""
    cap = cv2.VideoCapture(str(_need(VIDEO)))
    frames = []
    for i in range(31):
        ok, image = cap.read()
        assert ok
        if i % 10 == 0:
            frames.append(image)
    cap.release()
    return frames


def wait_listening(path: Path, proc: subprocess.Popen[bytes] | None = None,
                   timeout_s: float = 180.0) -> None:
    """Poll until something accepts on ``path`` (the service loads its model first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the service exited with {proc.returncode}")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            return
        except OSError:
            time.sleep(0.1)
        finally:
            probe.close()
    raise AssertionError(f"nothing listens on {path} after {timeout_s} s")


ServiceStart = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
def service(tmp_path: Path, model_path: Path) -> Iterator[tuple[Path, ServiceStart]]:
    """(socket path, start): ``start()`` runs a real service process with the model preloaded
    and returns once it listens; every process started is stopped at the end."""
    sock = tmp_path / "inference.sock"
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "counting.inference.server", "--socket", str(sock),
             "--threads", "1", "--preload", str(model_path)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        wait_listening(sock, proc)
        return proc

    yield sock, start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
