"""SIGTERM to a stream worker with a live PETS stream: every process of it is gone within 10 s,
the runner wrote its buffered crossings (the final flush is the only write in this case), and
released its lease so another node can take the camera at once."""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any

import pytest

from tests.chaos.faults import MARKER_VARIABLE, kill_marked, wait_until_gone
from tests.chaos.reference import assert_counts_explained
from tests.chaos.stack import Clip, live_camera, pets_clip, settle  # noqa: F401 - fixture
from tests.streams.conftest import (
    dispatch,
    health_of,
    line_counts,
    stream_worker,
    worker_log,
)

pytestmark = pytest.mark.slow

STOP_BOUND_S = 10.0


def test_sigterm_stops_the_stream_worker_within_10s_flushing_and_releasing_the_lease(
        pets_clip: Clip, stream_tenant: Any, streams_queue: str, settings: Any,  # noqa: F811
        allow_loopback: None) -> None:
    marker = uuid.uuid4().hex
    # The runner writes nothing on its own during the clip (flush once an hour or every 100k
    # events): every stored crossing comes from the flush on shutdown.
    env = {MARKER_VARIABLE: marker, "COUNTING_FLUSH_S": "3600",
           "COUNTING_FLUSH_EVENTS": "100000"}
    try:
        with live_camera(stream_tenant, pets_clip.path, pets_clip.frames) as camera, \
                stream_worker(streams_queue, extra_env=env) as worker:
            # given a worker counting the whole clip live, its crossings still in its buffer
            assert dispatch(stream_tenant, streams_queue, settings) == [camera.pk]
            played = camera.wait_finished()
            settle(2.0)
            assert played["position"] == pets_clip.frames - 1
            assert line_counts(stream_tenant, camera.pk) == {}
            assert camera.lease()["owner"]
            # when the worker's main process gets SIGTERM (systemd, docker stop, kill)
            started = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            left = wait_until_gone(marker, STOP_BOUND_S + 5)
            elapsed = time.monotonic() - started
            # then the worker and its pool child are gone within 10 s
            assert left == [], f"still running after {elapsed:.1f}s: {left}"
            assert elapsed <= STOP_BOUND_S
    finally:
        kill_marked(marker)
    print(f"worker stopped {elapsed:.1f} s after SIGTERM")
    log = worker_log(streams_queue)
    # and the runner stopped on the shutdown flag, released its lease, said why in health
    assert f"camera {camera.pk}: stream ended (worker-shutdown)" in log, log[-3000:]
    assert camera.lease()["owner"] == ""
    health = health_of(stream_tenant, camera.pk)
    assert (health.state, health.reason) == ("offline", "stream stopped (worker-shutdown)")
    # and its final flush stored the clip's crossings: count_video's, nothing lost or doubled
    comparison = camera.comparison(pets_clip.reference)
    assert_counts_explained(comparison, log[-3000:])
    assert comparison.reported_lost == 0
