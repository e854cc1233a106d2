"""Start a real Celery worker process (RabbitMQ broker) against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_process_env() -> dict[str, str]:
    """What a server or worker started by a test needs to share this run's database and keys."""
    from django.conf import settings

    return {"DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": test_database_url(),
            "TEST_CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            "PYTHONUNBUFFERED": "1"}


def test_database_url() -> str:
    params = connection.settings_dict
    return (f"postgres://{params['USER'] or 'postgres'}@{params['HOST'] or '127.0.0.1'}:"
            f"{params['PORT'] or 5432}/{params['NAME']}")


@contextmanager
def celery_worker(queues: str | None = None, concurrency: int = 1,
                  extra_env: dict[str, str] | None = None, app: str = "config",
                  ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``celery worker`` on ``queues`` (a private queue if None); yields (queue, process).

    ``app`` is the ``-A`` module: a test may name a module that adds its own tasks to the app.

    Each worker gets its own node name, so several may share a queue like stream nodes in
    production; its output is appended to var/worker-<queue>.log.
    """
    queue = queues or f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **test_process_env(), **(extra_env or {})}
    (REPO_ROOT / "var").mkdir(exist_ok=True)
    log = open(REPO_ROOT / "var" / f"worker-{queue}.log", "ab")  # noqa: SIM115
    node = f"{queue}-{uuid.uuid4().hex[:6]}@%h"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queue, "-n", node,
         "--concurrency", str(concurrency), "--prefetch-multiplier", "1", "--pool", "prefork",
         "--without-gossip", "--without-mingle", "-l", "INFO"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield queue, process
    finally:
        stop_process_group(process)
        log.close()


def stop_process_group(process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    """SIGTERM a process started with ``start_new_session`` and its children; SIGKILL if it
    has not stopped after ``timeout_s``."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
