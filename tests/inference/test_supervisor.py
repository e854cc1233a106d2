"""The streams worker's supervisor keeps exactly one inference service per node running."""

from __future__ import annotations

import time
from pathlib import Path

from counting.runner.inference_supervisor import InferenceSupervisor, service_listening
from tests.inference.conftest import until


def test_the_supervisor_restarts_a_dead_service_and_leaves_another_workers_alone(
        tmp_path: Path) -> None:
    # given a supervisor (no model preloaded: the service listens at once)
    sock = str(tmp_path / "run" / "inference.sock")
    first = InferenceSupervisor(socket_path=sock, threads=1, check_s=0.1)
    second = InferenceSupervisor(socket_path=sock, threads=1, check_s=0.1)
    try:
        first.start()
        assert first.process is not None and until(lambda: service_listening(sock))
        # when a second worker on the same node starts its supervisor
        second.start()
        time.sleep(0.5)
        # then it uses the running service instead of starting another
        assert second.process is None and second.starts == 0
        # when the service is killed
        dead = first.process
        dead.kill()
        # then its supervisor starts it again (the other one never does) and it listens
        assert until(lambda: first.starts == 2 and service_listening(sock))
        assert second.starts == 0
        assert dead.poll() is not None
    finally:
        first.stop()
        second.stop()
    # and stopping the supervisors ends the service they started
    for sup in (first, second):
        assert sup.process is None or sup.process.poll() is not None
