"""A live stream under test, shared by the chaos cases around the runner: the broker behind a
proxy, a stream worker, a camera playing the PETS segment, and the counts at the end.

- :func:`rabbitmq_proxy`: a :class:`~tests.chaos.faults.TcpProxy` in front of the shared
  RabbitMQ; cutting it (``refuse()``) is a broker restart *for the processes behind it only*
  (the worker under test, or this process's publisher), never for other tests.
- :func:`publisher_broker`: this process's Celery app publishing through such a proxy.
- :class:`LiveCamera`: one camera of the stream tenant on a simulator playing a clip once,
  with what the case needs at its end (played frames, stored counts, reported losses).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.faults import TcpProxy, tcp_proxy
from tests.chaos.reference import (
    CountComparison,
    camera_outcome,
    compare_counts,
    overload_unanalysed_s,
)
from tests.streams.conftest import (
    camera_simulator,
    lease_of,
    make_camera,
    simulator_status,
    wait_for,
)

RABBITMQ = ("127.0.0.1", 5672)


def broker_url_through(proxy: TcpProxy) -> str:
    """The broker URL of the shared RabbitMQ, reached through ``proxy``."""
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings

    url = urlsplit(settings.CELERY_BROKER_URL)
    credentials = url.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(url._replace(netloc=netloc))


def broker_address() -> tuple[str, int]:
    """Host and port of the shared RabbitMQ (from the settings' broker URL)."""
    from urllib.parse import urlsplit

    from django.conf import settings

    url = urlsplit(settings.CELERY_BROKER_URL)
    return url.hostname or RABBITMQ[0], url.port or RABBITMQ[1]


@contextmanager
def rabbitmq_proxy() -> Iterator[TcpProxy]:
    """A loopback proxy in front of the shared RabbitMQ (forwarding until told otherwise)."""
    with tcp_proxy(broker_address()) as proxy:
        yield proxy


def _reset_app_pools(app: Any) -> None:
    """Close and forget the process's broker connections (kombu's pools are process-wide and
    keyed by URL: a closed pool left registered would be handed out again)."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def publisher_broker(url: str) -> Iterator[None]:
    """This process publishes its tasks to ``url`` for the duration of the block."""
    from config.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = url
    _reset_app_pools(app)
    try:
        yield
    finally:
        app.conf.broker_url = previous
        _reset_app_pools(app)


def queue_depth(queue: str) -> int:
    """Messages waiting in ``queue`` on the shared RabbitMQ (0 if it does not exist)."""
    from config.celery import app

    with app.connection_for_write() as conn:
        try:
            return int(conn.default_channel.queue_declare(queue, passive=True).message_count)
        except Exception:  # noqa: BLE001 - not declared yet: nothing waits in it
            return 0


@dataclass
class LiveCamera:
    """A camera of ``tenant`` on a simulator playing a clip once from the runner's first read."""

    tenant: Any
    url: str
    camera: Any
    frames: int

    @property
    def pk(self) -> int:
        return int(self.camera.pk)

    def status(self) -> dict[str, Any]:
        return simulator_status(self.url) or {}

    def wait_playing(self, timeout: float = 120) -> None:
        """Until the runner connected and frames are on air (the clip started)."""
        wait_for(lambda: self.status().get("position", -1) >= 5, timeout, interval=0.2,
                 message="the clip to start playing to the runner")

    def wait_position(self, frame: int, timeout: float = 120) -> None:
        wait_for(lambda: self.status().get("position", -1) >= frame, timeout, interval=0.2,
                 message=f"frame {frame} to be on air")

    def wait_finished(self, timeout: float = 180) -> dict[str, Any]:
        wait_for(lambda: self.status().get("finished"), timeout, message="the clip to end")
        return self.status()

    def lease(self) -> dict[str, Any] | None:
        return lease_of(self.tenant, self.pk)

    def comparison(self, reference: dict[str, dict[str, int]]) -> CountComparison:
        """Stored counts against ``reference``; what the system reported lost; the jitter
        allowed given the frames live sampling dropped."""
        stored, lost, dropped = camera_outcome(self.tenant, self.pk)
        return compare_counts(stored=stored, reference=reference, reported_lost=lost,
                              frames_dropped=dropped,
                              overload_s=overload_unanalysed_s(self.tenant, self.pk),
                              clip_s=self.frames / 7.0)


@contextmanager
def live_camera(tenant: Any, video: Path, frames: int, detect_fps: float = 30.0,
                ) -> Iterator[LiveCamera]:
    """A simulator playing ``video`` once, starting when the runner connects, and a camera
    (with the PETS lines) on it; every frame is analysed (detect_fps above the clip's 7)."""
    with camera_simulator(video, loops=1, start_on_connect=True, quality=95) as url:
        camera = make_camera(tenant, url, detect_fps=detect_fps)
        yield LiveCamera(tenant=tenant, url=url, camera=camera, frames=frames)


def settle(seconds: float = 3.0) -> None:
    """The last batch is flushed within a second and health reported every 2 s."""
    time.sleep(seconds)


@dataclass(frozen=True)
class Clip:
    """The PETS segment every live case plays, and count_video's counts on its frames."""

    path: Path
    frames: int
    reference: dict[str, dict[str, int]]


CLIP_FRAMES = 280  # 40 s of the 7 fps clip, as in tests/streams/test_stream_e2e.py


@pytest.fixture(scope="session")
def pets_clip(tmp_path_factory: Any) -> Clip:
    """Made and counted once per test session, shared by every live chaos case."""
    from tests.chaos.reference import pets_segment, reference_counts
    from tests.conftest import SHARED_DIR
    from tests.streams.conftest import PETS

    source = SHARED_DIR / PETS
    if not source.exists():
        pytest.skip(f"PETS video not found at {source}")
    path = pets_segment(source, tmp_path_factory.mktemp("clip") / "pets-280.avi", CLIP_FRAMES)
    return Clip(path=path, frames=CLIP_FRAMES, reference=reference_counts(path))
