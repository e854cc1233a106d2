"""Redis down or frozen: every client call is bounded, and the API keeps answering with its
throttling explicitly degraded. Each test uses a redis-server of its own (never the shared one).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.chaos.faults import RedisProcess

# A frozen Redis must fail a call within its socket timeout; this much more is allowed for a
# loaded CI machine (the point is "seconds", not "forever").
SLACK_S = 2.0


@pytest.fixture(autouse=True)
def _fresh_throttle_outage() -> Iterator[None]:
    """The outage memory is process-wide: start and leave each test with a healthy one."""
    from tenants.rest.throttling import cache_outage

    cache_outage.recovered()
    yield
    cache_outage.recovered()


@pytest.fixture
def cache_on(settings: Any) -> Any:
    """Point the Django cache at a given Redis (setting CACHES resets the cache handlers)."""

    def point(server: RedisProcess) -> None:
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url(1)}}

    return point


def test_redis_client_fails_within_its_socket_timeout_when_redis_is_frozen(
        private_redis: RedisProcess, settings: Any) -> None:
    from tenants.redis_keys import redis_client

    # given the app's Redis client on a Redis that answers
    settings.REDIS_URL = private_redis.url(0)
    settings.REDIS_SOCKET_TIMEOUT_S = 0.5
    client = redis_client()
    client.set("k", "1")
    # when the Redis process is frozen (SIGSTOP: the port accepts, nothing answers)
    private_redis.freeze()
    started = time.monotonic()
    # then a command raises a timeout instead of blocking
    with pytest.raises(redis.TimeoutError):
        client.get("k")
    assert time.monotonic() - started < 0.5 + SLACK_S
    # and a fresh client (a new connection) is bounded the same way
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        redis_client().get("k")
    assert time.monotonic() - started < 0.5 + SLACK_S
    # and once thawed, the same client works again with the key intact
    private_redis.thaw()
    assert client.get("k") == b"1"


def test_redis_client_refuses_fast_when_redis_is_stopped(
        private_redis: RedisProcess, settings: Any) -> None:
    from tenants.redis_keys import redis_client

    settings.REDIS_URL = private_redis.url(0)
    private_redis.stop()
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        redis_client().get("k")
    assert time.monotonic() - started < settings.REDIS_CONNECT_TIMEOUT_S + SLACK_S


def test_every_redis_user_in_settings_has_timeouts(settings: Any) -> None:
    # the Django cache, the channel layer and Celery's result backend all bound their calls
    options = settings.CACHES["default"]["OPTIONS"]
    assert options["socket_timeout"] > 0 and options["socket_connect_timeout"] > 0
    from channels_redis.core import RedisChannelLayer

    (host,) = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    # longer than the layer's own blocking receive, or every idle consumer would time out
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
    assert host["socket_connect_timeout"] > 0
    assert settings.CELERY_REDIS_SOCKET_TIMEOUT > 0
    assert settings.CELERY_REDIS_SOCKET_CONNECT_TIMEOUT > 0


def test_django_cache_fails_within_its_timeout_when_redis_is_frozen(
        private_redis: RedisProcess, cache_on: Any, settings: Any) -> None:
    from django.core.cache import cache

    cache_on(private_redis)
    cache.set("k", 1)
    private_redis.freeze()
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        cache.get("k")
    assert time.monotonic() - started < settings.CACHES["default"]["OPTIONS"][
        "socket_timeout"] + SLACK_S


def test_channel_layer_fails_within_its_timeout_when_redis_is_frozen(
        private_redis: RedisProcess) -> None:
    from channels_redis.core import RedisChannelLayer

    from config.settings.base import channels_redis_host

    # given a channel layer built from the settings' host entry (a short timeout for the test)
    layer = RedisChannelLayer(hosts=[{**channels_redis_host(private_redis.url(2)),
                                      "socket_timeout": 1.0}])

    async def scenario() -> float:
        await layer.group_send("g", {"type": "x"})
        private_redis.freeze()
        started = time.monotonic()
        try:
            with pytest.raises(redis.TimeoutError):
                await layer.group_send("g", {"type": "x"})
            return time.monotonic() - started
        finally:
            private_redis.thaw()
            await layer.flush()

    # when Redis freezes, then a publish raises within the timeout instead of hanging
    assert asyncio.run(scenario()) < 1.0 + SLACK_S


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_the_api_answers_with_throttling_degraded_while_the_cache_is_unavailable(
        fault: str, private_redis: RedisProcess, cache_on: Any, world_a: Any, api_client: Any,
        caplog: Any, settings: Any) -> None:
    # given the API's cache on a Redis that then stops (or freezes)
    cache_on(private_redis)
    client = api_client("a", world_a.owner)
    assert client.get("/api/v1/cameras/").status_code == 200
    if fault == "stopped":
        private_redis.stop()
    else:
        private_redis.freeze()
    # when the camera list is asked for three times
    caplog.set_level(logging.WARNING, logger="tenants.rest.throttling")
    started = time.monotonic()
    responses = [client.get("/api/v1/cameras/") for _ in range(3)]
    elapsed = time.monotonic() - started
    # then every answer is a 200 that says throttling is degraded, within one cache timeout
    # (after the first failure the cache is not asked again during the retry interval)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r["X-Throttle-Degraded"] for r in responses] == ["cache unavailable"] * 3
    assert elapsed < settings.CACHES["default"]["OPTIONS"]["socket_timeout"] + SLACK_S
    assert world_a.camera.pk in [camera["id"] for camera in responses[-1].json()["results"]]
    # and the outage is logged once, not once per request
    warnings = [r for r in caplog.records if "throttling degraded" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_throttling_comes_back_when_the_cache_does(
        fault: str, private_redis: RedisProcess, cache_on: Any, world_a: Any, api_client: Any,
        settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"user": "2/min", "token": "2/min",
                                                          "anon": "2/min"}}
    settings.API_THROTTLE_CACHE_RETRY_S = 0.2
    cache_on(private_redis)
    client = api_client("a", world_a.owner)
    # given a cache outage seen by a request
    if fault == "stopped":
        private_redis.stop()
    else:
        private_redis.freeze()
    assert client.get("/api/v1/me/")["X-Throttle-Degraded"] == "cache unavailable"
    # when the cache is back and the retry interval has passed
    if fault == "stopped":
        private_redis.start()
    else:
        private_redis.thaw()
    time.sleep(0.3)
    codes = [client.get("/api/v1/me/") for _ in range(3)]
    # then requests are throttled again (2 per minute), without the degraded header
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert all("X-Throttle-Degraded" not in r for r in codes)
