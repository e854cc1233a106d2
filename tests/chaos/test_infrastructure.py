"""The fault injectors themselves: the proxy really stalls, refuses and resumes; the private
Redis really freezes and comes back; the count comparison catches doubles and silent losses."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.chaos.faults import RedisProcess, TcpProxy, django_conninfo
from tests.chaos.reference import compare_counts, pets_segment, reference_counts


def _through(proxy: TcpProxy) -> str:
    conninfo = django_conninfo()
    parts = dict(part.split("=", 1) for part in conninfo.split())
    parts.update(host="127.0.0.1", port=str(proxy.port), connect_timeout="3")
    return " ".join(f"{key}={value}" for key, value in parts.items())


def test_the_proxy_stalls_and_resumes_without_losing_a_byte(db_proxy: TcpProxy) -> None:
    # given a PostgreSQL connection through the proxy
    conn = psycopg.connect(_through(db_proxy), autocommit=True)
    try:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        # when the proxy stalls, a query sent on the open connection gets no answer
        db_proxy.stall()
        result: list[Any] = []
        worker = threading.Thread(
            target=lambda: result.append(conn.execute("SELECT 42").fetchone()), daemon=True)
        worker.start()
        worker.join(timeout=2.0)
        assert worker.is_alive() and result == []
        # and a new connection cannot be made either (it times out, nothing is refused)
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(_through(db_proxy))
        assert time.monotonic() - started >= 2.5
        # when it forwards again, the held query completes with its answer
        db_proxy.forward()
        worker.join(timeout=5.0)
        assert result == [(42,)]
    finally:
        db_proxy.forward()
        conn.close()


def test_the_proxy_refuses_and_comes_back(db_proxy: TcpProxy) -> None:
    conn = psycopg.connect(_through(db_proxy), autocommit=True)
    # when the proxy refuses, the open connection is cut and a new one is refused at once
    db_proxy.refuse()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="refused"):
        psycopg.connect(_through(db_proxy))
    assert time.monotonic() - started < 2.0
    # and when it forwards again, connections work on the same port
    db_proxy.forward()
    with psycopg.connect(_through(db_proxy), autocommit=True) as again:
        assert again.execute("SELECT 1").fetchone() == (1,)


def test_the_private_redis_freezes_thaws_stops_and_restarts(
        private_redis: RedisProcess) -> None:
    client = redis.Redis.from_url(private_redis.url(), socket_timeout=0.5,
                                  socket_connect_timeout=0.5)
    client.set("k", "v")
    # frozen: the process exists and accepts TCP, but answers nothing
    private_redis.freeze()
    assert private_redis.running
    assert not private_redis.ping()
    with pytest.raises(redis.TimeoutError):
        client.get("k")
    # thawed: it answers again with its data
    private_redis.thaw()
    assert client.get("k") == b"v"
    # stopped: connections are refused; restarted: same port, empty (no persistence)
    private_redis.stop()
    assert not private_redis.running
    with pytest.raises(redis.ConnectionError):
        client.get("k")
    private_redis.start()
    assert client.get("k") is None


def test_a_frozen_private_redis_is_cleaned_up(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.start()
    server.freeze()
    server.close()
    assert server.process is not None and server.process.poll() is not None


@pytest.mark.parametrize(
    ("stored", "lost", "dropped", "overload_s", "problems"),
    [
        # exactly the reference, nothing lost: explained
        ({"a": {"in": 5, "out": 3}}, 0, 0, 0.0, 0),
        # one crossing off in one direction: a fault-free live stream's jitter
        ({"a": {"in": 4, "out": 3}}, 0, 0, 0.0, 0),
        # four missing and four reported lost: explained
        ({"a": {"in": 1, "out": 3}}, 4, 0, 0.0, 0),
        # four missing, none reported: a silent loss
        ({"a": {"in": 1, "out": 3}}, 0, 0, 0.0, 1),
        # reported losses that did not happen are also wrong
        ({"a": {"in": 5, "out": 3}}, 6, 0, 0.0, 1),
        # three extra crossings: doubled
        ({"a": {"in": 8, "out": 3}}, 0, 0, 0.0, 1),
        # a line the reference never saw counts as extra
        ({"a": {"in": 5, "out": 3}, "b": {"in": 3, "out": 0}}, 0, 0, 0.0, 1),
        # dropped frames allow two more crossings of jitter
        ({"a": {"in": 2, "out": 3}}, 0, 5, 0.0, 0),
        # 10 s of a 40 s clip reported not analysed (overload): up to 2 more may be missing
        ({"a": {"in": 1, "out": 3}}, 0, 0, 10.0, 0),
        # but not 3 more, and overload explains no extra crossing
        ({"a": {"in": 0, "out": 3}}, 0, 0, 10.0, 1),
        ({"a": {"in": 8, "out": 3}}, 0, 0, 10.0, 1),
    ],
)
def test_compare_counts(stored: dict[str, dict[str, int]], lost: int, dropped: int,
                        overload_s: float, problems: int) -> None:
    comparison = compare_counts(stored=stored, reference={"a": {"in": 5, "out": 3}},
                                reported_lost=lost, frames_dropped=dropped,
                                overload_s=overload_s, clip_s=40.0)
    assert len(comparison.problems()) == problems, comparison


@pytest.mark.slow
def test_reference_counts_runs_count_video_on_the_same_frames(
        shared_dir: Path, tmp_path: Path, django_db_setup: Any) -> None:
    from tests.streams.conftest import PETS

    segment = pets_segment(shared_dir / PETS, tmp_path / "short.avi", 40)
    counts = reference_counts(segment)
    assert set(counts) == {"east-west", "north-south"}
    assert all(set(v) == {"in", "out"} and min(v.values()) >= 0 for v in counts.values())
