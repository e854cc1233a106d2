"""Fixtures for the inference service tests: no database; a real service process on a temporary
socket with the real model (skipped with the reason when the shared data is absent)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.pipeline import conftest as pipeline_fixtures

# The shared data and the no-database override are the pipeline tests' (the same rules).
REPO = Path(__file__).resolve().parents[2]
VIDEO = pipeline_fixtures.VIDEO
_need = pipeline_fixtures._need
model_path = pipeline_fixtures.model_path
_public_schema_between_tests = pipeline_fixtures._public_schema_between_tests


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


def until(condition: Callable[[], bool], timeout_s: float = 120.0) -> bool:
    """Poll ``condition`` every 0.1 s; True once it holds, False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def serving_in_process(server: Any) -> Iterator[Any]:
    """An ``InferenceServer`` of this process listening on its socket for the block."""
    server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=10)


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
