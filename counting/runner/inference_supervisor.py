"""The streams worker starts and supervises the node's inference service.

In a Celery worker that consumes the streams queue, with ``COUNTING_INFERENCE = "service"``,
``worker_init`` (the worker's main process, before the pool forks its children) starts a
supervisor thread that keeps ``python -m counting.inference.server`` running on
``COUNTING_INFERENCE_SOCKET``:

- it checks every second; a service that exited is started again (after 1 s, doubling up to 30 s
  while it keeps dying within a minute of its start);
- one service per node: the supervisor that holds the node's lock file (``<socket>.lock``,
  ``flock``) runs it; a second streams worker on the same host does not start one and uses
  that one, and takes over (the kernel frees the lock) if the first worker dies. A service
  someone started by hand on the socket is used as well;
- once a minute it writes the node's detection latency to model_logs: one row per model for
  the service's batches (the runs do not write their own in this mode);
- the service gets SIGTERM when the worker ends (``worker_shutdown``), and from the kernel if
  the worker dies without cleaning up (``PR_SET_PDEATHSIG``).

The pool children share the main process's resource tracker (started here, before the fork),
which unlinks the shared-memory segment of a runner killed without closing its client.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from celery.signals import worker_init, worker_shutdown
from django.conf import settings

from counting.model_logs import LATENCY_EVERY_S

logger = logging.getLogger(__name__)

RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def service_listening(path: str) -> bool:
    """True if a process accepts connections on the socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


class InferenceSupervisor:
    """Keeps one inference service process running for this node."""

    def __init__(self, *, socket_path: str, threads: int = 0, workers: int = 0,
                 max_batch: int = 8, preload: dict[str, Any] | None = None,
                 check_s: float = 1.0, latency_every_s: float = LATENCY_EVERY_S) -> None:
        self.socket_path = socket_path
        self.threads = threads
        self.workers = workers
        self.max_batch = max_batch
        self.preload = preload
        self.check_s = check_s
        self.latency_every_s = latency_every_s
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._started_at = 0.0
        self._delay_s = 0.0
        self._next_start = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "counting.inference.server", "--socket", self.socket_path,
               "--max-batch", str(self.max_batch)]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        if self.workers:
            cmd += ["--workers", str(self.workers)]
        if self.preload:  # listen only once the settings' model is loaded: runners meet a
            # refused connection (and back off) rather than a hello that waits for the load
            cmd += ["--preload", json.dumps(self.preload)]
        return cmd

    def start(self) -> None:
        Path(self.socket_path).parent.mkdir(parents=True, exist_ok=True)
        self.check()
        self._thread = threading.Thread(target=self._run, name="inference-supervisor",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_latency = time.monotonic() + self.latency_every_s
        while not self._stop.wait(self.check_s):
            try:
                self.check()
                if time.monotonic() >= next_latency:
                    next_latency = time.monotonic() + self.latency_every_s
                    self.latency_log()
            except Exception:  # never let the supervisor die: log and try again
                logger.exception("inference supervisor: check failed")

    def latency_log(self) -> int:
        """The node's model_logs latency rows: the service's batches since the last call, one
        row per model (only the supervisor holding the node's lock asks); returns the rows."""
        if self._lock_fd is None or not service_listening(self.socket_path):
            return 0
        from counting.inference.protocol import recv_message, send_message
        from counting.model_logs import service_latency_record

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(self.socket_path)
            send_message(sock, {"op": "latency"})
            reply = recv_message(sock)
        if reply is None or reply[0].get("op") != "latency":
            return 0
        from django.db import connection

        try:
            return service_latency_record(reply[0]["models"])
        finally:
            # No connection is kept open in the worker's main process: the pool forks its
            # children from it, and a child must not inherit (and close) a live socket.
            if not connection.in_atomic_block:  # (tests run in one transaction)
                connection.close()

    def check(self) -> None:
        """Start the service if it is not running (neither ours nor another worker's)."""
        if self._stop.is_set():
            return
        proc = self.process
        if proc is not None and proc.poll() is None:
            return
        now = time.monotonic()
        if proc is not None:  # ours died
            lived = now - self._started_at
            self._delay_s = RESTART_MIN_S if lived >= HEALTHY_AFTER_S else min(
                RESTART_MAX_S, max(RESTART_MIN_S, self._delay_s * 2))
            self._next_start = now + self._delay_s
            logger.error("inference service (pid %s) exited with %s after %.0f s; restarting "
                         "in %.0f s (runners record the time as a 'detector' gap)", proc.pid,
                         proc.returncode, lived, self._delay_s)
            self.process = None
        if now < self._next_start or not self._node_lock() or service_listening(
                self.socket_path):
            return
        self.process = subprocess.Popen(self.command(), preexec_fn=_die_with_parent)  # noqa: S603
        self._started_at = now
        self.starts += 1
        logger.info("inference service started (pid %s) on %s", self.process.pid,
                    self.socket_path)

    def _node_lock(self) -> bool:
        """True if this supervisor holds (or now takes) the node's lock."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self.socket_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout_s)
        try:
            self._stop_process(timeout_s)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _stop_process(self, timeout_s: float) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)


_supervisor: InferenceSupervisor | None = None


def _consumes_streams(worker: Any) -> bool:
    queues = getattr(getattr(getattr(worker, "app", None), "amqp", None), "queues", None)
    consume_from = getattr(queues, "consume_from", None)
    return not consume_from or settings.COUNTING_STREAMS_QUEUE in consume_from


@worker_init.connect
def _start_inference_service(sender: Any = None, **kwargs: Any) -> None:
    global _supervisor
    if settings.COUNTING_INFERENCE != "service" or _supervisor is not None \
            or not _consumes_streams(sender):
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # one tracker for the pool children (see above)
    from counting.runner.detector import settings_detector_spec

    _supervisor = InferenceSupervisor(socket_path=settings.COUNTING_INFERENCE_SOCKET,
                                      threads=settings.COUNTING_INFERENCE_THREADS,
                                      workers=settings.COUNTING_INFERENCE_WORKERS,
                                      max_batch=settings.COUNTING_INFERENCE_MAX_BATCH,
                                      preload=settings_detector_spec().as_dict())
    _supervisor.start()


@worker_shutdown.connect
def _stop_inference_service(sender: Any = None, **kwargs: Any) -> None:
    if _supervisor is not None:
        _supervisor.stop()
