"""The project's Celery app plus two tasks that stand in for a stream loop in shutdown tests.

Started as ``celery -A tests.chaos.shutdown_app worker``; tests only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from config.celery import app
from tenants.tasks import PlatformTask

MAX_S = 120.0  # a task of a test never outlives a forgotten worker by much


@app.task(name="chaos.wait_for_shutdown", base=PlatformTask)
def wait_for_shutdown(marker: str) -> str:
    """Loop like a stream runner: work in short steps, stop when the shutdown flag is set."""
    from counting.runner.shutdown import shutdown_requested

    path = Path(marker)
    path.write_text(f"started {os.getpid()}\n")
    started = time.monotonic()
    while not shutdown_requested.wait(0.1):
        if time.monotonic() - started > MAX_S:
            path.write_text(path.read_text() + "gave up\n")
            return "gave up"
    # the "flush and release" a stream runner would do here
    path.write_text(path.read_text() + "stopped cleanly\n")
    return "stopped"


@app.task(name="chaos.ignore_shutdown", base=PlatformTask)
def ignore_shutdown(marker: str) -> str:
    """A loop that never checks the flag (a runner stuck in a call)."""
    path = Path(marker)
    path.write_text(f"started {os.getpid()}\n")
    started = time.monotonic()
    while time.monotonic() - started < MAX_S:
        time.sleep(0.1)
    return "ran out"
