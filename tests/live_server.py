"""Run the real ASGI server (daphne) in a subprocess against the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.celery_worker import REPO_ROOT, stop_process_group, test_process_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def asgi_server(extra_env: dict[str, str] | None = None) -> Iterator[int]:
    """Start daphne on a free loopback port; yields the port once it accepts connections."""
    with asgi_server_process(extra_env) as (port, _process):
        yield port


@contextmanager
def asgi_server_process(extra_env: dict[str, str] | None = None,
                        ) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """:func:`asgi_server`, yielding the port and the server's process (its pid, to look at
    its threads)."""
    port = free_port()
    env = {**os.environ, **test_process_env(), **(extra_env or {})}
    (REPO_ROOT / "var").mkdir(exist_ok=True)
    log = open(REPO_ROOT / "var" / f"daphne-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "config.asgi:application"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError as exc:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"daphne exited with {process.returncode}; see {log.name}") from exc
                time.sleep(0.2)
        else:
            raise RuntimeError(f"daphne did not listen on {port} within 30 s; see {log.name}")
        yield port, process
    finally:
        stop_process_group(process, timeout_s=15)
        log.close()
