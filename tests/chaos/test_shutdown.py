"""SIGTERM or Ctrl-C stops a Celery worker whose task loops like a stream runner within 10 s:
the task sees ``shutdown_requested`` and returns, nothing is left behind."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.faults import MARKER_VARIABLE, kill_marked, processes_marked, wait_until_gone
from tests.streams.conftest import queue_delete, wait_for

pytestmark = pytest.mark.slow

STOP_BOUND_S = 10.0


@pytest.fixture
def marker() -> Iterator[str]:
    value = uuid.uuid4().hex
    yield value
    kill_marked(value)


def _run(task: str, how: str, marker: str, tmp_path: Path, concurrency: int = 2,
         ) -> tuple[float, str, int]:
    """Start a worker, run ``task`` on it, stop the worker ``how``; returns the seconds the stop
    took, the task's marker file and how many processes the worker had."""
    from config.celery import app
    from tests.celery_worker import celery_worker

    note = tmp_path / "task.txt"
    env = {MARKER_VARIABLE: marker, "COUNTING_SHUTDOWN_GRACE_S": "4"}
    with celery_worker(concurrency=concurrency, extra_env=env,
                       app="tests.chaos.shutdown_app") as (queue, process):
        try:
            app.send_task(task, args=[str(note)], queue=queue)
            wait_for(lambda: note.exists(), 60, message="the task to start")
            processes = len(processes_marked(marker))
            started = time.monotonic()
            if how == "SIGTERM to the main process":
                process.send_signal(signal.SIGTERM)
            elif how == "SIGINT to the main process":
                process.send_signal(signal.SIGINT)
            else:  # what run_all.sh, systemd and docker stop do
                os.killpg(process.pid, signal.SIGTERM)
            left = wait_until_gone(marker, STOP_BOUND_S + 5)
            elapsed = time.monotonic() - started
            assert left == [], f"still running after {elapsed:.1f}s: {left}"
        finally:
            queue_delete(queue)
    return elapsed, note.read_text(), processes


@pytest.mark.parametrize("how", ["SIGTERM to the main process", "SIGINT to the main process",
                                 "SIGTERM to the process group"])
def test_a_worker_stops_within_10s_and_its_looping_task_sees_the_flag(
        how: str, marker: str, tmp_path: Path, django_db_setup: Any) -> None:
    # given a worker (main process + 2 prefork children) running a task that loops until the
    # shutdown flag is set, as a stream runner does
    # when it is stopped
    elapsed, note, processes = _run("chaos.wait_for_shutdown", how, marker, tmp_path)
    # then every process of it is gone within 10 s, and the task ended through the flag
    assert processes == 3
    assert elapsed <= STOP_BOUND_S
    assert note.splitlines()[1:] == ["stopped cleanly"]


def test_a_task_that_ignores_the_flag_is_ended_after_the_grace_period(
        marker: str, tmp_path: Path, django_db_setup: Any) -> None:
    # given a task stuck in a loop that never checks the flag (grace period 4 s)
    # when the worker gets SIGTERM
    elapsed, note, _ = _run("chaos.ignore_shutdown", "SIGTERM to the main process", marker,
                            tmp_path)
    # then its process exits hard after the grace period, and the worker with it, within 10 s
    assert 4.0 <= elapsed <= STOP_BOUND_S
    assert note.startswith("started")
