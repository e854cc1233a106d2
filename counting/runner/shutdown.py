"""A process-wide "the worker is shutting down" flag that stream loops check.

A Celery warm shutdown (SIGTERM or Ctrl-C to the worker) waits for running tasks to finish, and a
stream task never finishes on its own, so without this flag a worker never stops. The flag is
``shutdown_requested``, a :class:`threading.Event` set:

- in the worker's main process, on Celery's ``worker_shutting_down`` signal (solo and threads
  pools run tasks there); the main process then forwards one SIGTERM to each prefork child,
  because Celery tells its children nothing on a warm shutdown (and Ctrl-C reaches only the
  main process: the children ignore SIGINT);
- in each prefork child, on SIGTERM: billiard makes SIGTERM end its children at once; while a
  task runs, this module's handler (installed at ``task_prerun``) asks for the flag instead (an
  idle child still ends at once). A child still running ``COUNTING_SHUTDOWN_GRACE_S`` seconds
  after that exits hard (``os._exit``), so a loop that never checks the flag cannot keep the
  worker alive; SIGKILL always works.

Signal handlers here take no lock (a handler runs in the main thread, between two bytecodes of
whatever held that lock, e.g. an ``Event.wait`` of the loop itself): they append to a list, and
a small watcher thread of the process turns that into the Event, the log line and the timer.

A stream loop checks ``shutdown_requested.is_set()`` once per iteration, and waits with
``shutdown_requested.wait(timeout)`` instead of ``time.sleep(timeout)``, then flushes, releases its
lease and returns within the grace period.

Imported by every Celery process through ``CELERY_IMPORTS`` (config/settings/streams.py),
before the pool forks, so its receivers are connected in the main process and in every child.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

from celery.signals import (
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_shutting_down,
)
from django.conf import settings

logger = logging.getLogger(__name__)

shutdown_requested = threading.Event()

WATCH_INTERVAL_S = 0.05
_state_lock = threading.Lock()
_hard_exit_timer: threading.Timer | None = None
# Reasons appended by signal handlers (list.append is atomic and takes no lock of ours).
_pending: list[str] = []
_watcher_pid: int | None = None


def grace_s() -> float:
    """Seconds a stream task has, after the shutdown request, to flush and release its lease."""
    return float(getattr(settings, "COUNTING_SHUTDOWN_GRACE_S", 6.0))


def shutdown_request(*, reason: str) -> bool:
    """Set the flag (idempotent); True if this call set it. Not for signal handlers."""
    with _state_lock:
        if shutdown_requested.is_set():
            return False
        shutdown_requested.set()
    logger.warning("shutdown requested (%s): stream loops flush, release their leases and "
                   "return", reason)
    return True


class _ChildState:
    """Where this process stands as a prefork child (all False in any other process)."""

    in_pool_child = False
    task_running = False
    previous_handler: Any = None  # billiard's own SIGTERM handler, used while idle


_child = _ChildState()


def _hard_exit() -> None:
    logger.error("still running %.1f s after the shutdown request: exiting now", grace_s())
    logging.shutdown()
    os._exit(1)


def _arm_hard_exit() -> None:
    global _hard_exit_timer
    with _state_lock:
        if _hard_exit_timer is not None:
            return
        _hard_exit_timer = threading.Timer(grace_s(), _hard_exit)
        _hard_exit_timer.daemon = True
        _hard_exit_timer.start()


def _watch() -> None:
    while not _pending:
        time.sleep(WATCH_INTERVAL_S)
    shutdown_request(reason=_pending[0])
    if _child.in_pool_child:
        _arm_hard_exit()


def _ensure_watcher() -> None:
    """One watcher thread per process (threads do not survive a fork: children start theirs)."""
    global _watcher_pid
    if _watcher_pid == os.getpid():
        return
    _watcher_pid = os.getpid()
    threading.Thread(target=_watch, daemon=True, name="shutdown-watcher").start()


def _on_child_sigterm(signum: int, frame: FrameType | None) -> None:
    if not _child.task_running and callable(_child.previous_handler):
        _child.previous_handler(signum, frame)  # idle: end the child as billiard would
        return
    _pending.append("SIGTERM")


@worker_init.connect
def _start_main_watcher(**kwargs: Any) -> None:
    _ensure_watcher()


@worker_process_init.connect
def _mark_pool_child(**kwargs: Any) -> None:
    _child.in_pool_child = True
    _pending.clear()  # inherited across the fork; this child has been asked nothing yet
    shutdown_requested.clear()


@task_prerun.connect
def _install_child_sigterm_handler(**kwargs: Any) -> None:
    """Before each task of a prefork child: SIGTERM asks the task to stop instead of killing it.

    Installed here rather than at ``worker_process_init`` because billiard replaces SIGTERM's
    handler with its own after that signal; never in a worker's main process (solo pool), whose
    SIGTERM handler is Celery's warm shutdown.
    """
    if not _child.in_pool_child:
        return
    _ensure_watcher()
    _child.task_running = True
    current = signal.getsignal(signal.SIGTERM)
    if current is not _on_child_sigterm:
        _child.previous_handler = current
        signal.signal(signal.SIGTERM, _on_child_sigterm)


@task_postrun.connect
def _task_finished(**kwargs: Any) -> None:
    _child.task_running = False


@worker_shutting_down.connect
def _on_worker_shutting_down(sig: str = "", how: str = "", **kwargs: Any) -> None:
    """In the worker's main process (inside Celery's signal handler), on warm or cold shutdown:
    ask for the flag and tell each pool child once."""
    import billiard

    first = not _pending
    _pending.append(f"{how or 'worker'} shutdown on {sig or 'signal'}")
    if not first:
        return
    for child in billiard.active_children():
        if child.pid is None:
            continue
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
