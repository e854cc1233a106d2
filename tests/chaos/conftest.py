"""Fixtures of the chaos suite: faults the test injects itself, on loopback, always undone.

- ``private_redis``: a redis-server of the test's own (stop, freeze, thaw, restart), never the
  shared one other tests use.
- ``db_proxy``: a TCP proxy in front of the test database that can refuse or stall; point a
  worker at it with ``proxied_database_url(db_proxy)``.
- ``lease_row_locked`` / ``lease_row_locked_for`` (tests/chaos/faults.py): the camera's lease
  row held by another transaction.
- ``pets_segment_280``: the first 40 s of PETS as a file for the simulator and for count_video;
  ``compare_counts`` (tests/chaos/reference.py) is how every case ends.

Stream fixtures (``stream_tenant``, ``streams_queue``, ``live_db``...) come from
tests/streams/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import api_client, world_a  # noqa: F401 - fixtures for API cases
from tests.chaos.faults import RedisProcess, TcpProxy, postgres_url, redis_process, tcp_proxy
from tests.chaos.reference import pets_segment
from tests.conftest import SHARED_DIR
from tests.streams.conftest import (  # noqa: F401 - fixtures shared with the stream tests
    PETS,
    allow_loopback,
    live_db,
    stream_tenant,
    streams_queue,
)

SEGMENT_FRAMES = 280  # 40 s of the 7 fps clip, as in tests/streams/test_stream_e2e.py


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A running redis-server of this test only; killed afterwards whatever state it is in."""
    with redis_process(tmp_path) as server:
        yield server


@pytest.fixture
def db_proxy(django_db_setup: Any) -> Iterator[TcpProxy]:
    """A loopback proxy in front of the test database (forwarding until told otherwise)."""
    from django.db import connection

    params = connection.settings_dict
    with tcp_proxy((params["HOST"] or "127.0.0.1", int(params["PORT"] or 5432))) as proxy:
        yield proxy


def proxied_database_url(proxy: TcpProxy) -> str:
    """DATABASE_URL of the test database through ``proxy`` (for a worker's environment)."""
    from django.db import connection

    params = connection.settings_dict
    return postgres_url(params["NAME"], port=proxy.port, user=params["USER"] or "postgres")


@pytest.fixture(scope="module")
def pets_segment_280(tmp_path_factory: Any) -> Path:
    source = SHARED_DIR / PETS
    if not source.exists():
        pytest.skip(f"PETS video not found at {source}")
    return pets_segment(source, tmp_path_factory.mktemp("video") / "pets-280.avi",
                        SEGMENT_FRAMES)
