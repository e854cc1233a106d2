"""``/healthz`` answers on every domain and names a stopped service."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import Any

import pytest
from django.test import Client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("host", ["localhost", "tenant-a.localhost", "tenant-b.localhost"])
def test_all_services_up_on_every_domain(db: Any, host: str) -> None:
    response = Client(HTTP_HOST=host).get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["services"]) == {"postgresql", "redis", "rabbitmq"}


def test_a_stopped_redis_is_reported_as_failing(db: Any, settings: Any) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed here")
    # given a real Redis server that the app uses
    port = _free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        assert Client(HTTP_HOST="tenant-a.localhost").get("/healthz").status_code == 200
        # when it stops
        server.terminate()
        server.wait(timeout=10)
        response = Client(HTTP_HOST="tenant-a.localhost").get("/healthz")
    finally:
        if server.poll() is None:
            server.kill()
    # then health is 503 and names Redis
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert "Connection" in body["services"]["redis"]["error"]


def test_a_stopped_broker_is_reported_as_failing(db: Any, settings: Any) -> None:
    # a broker address where nothing listens is what a stopped RabbitMQ looks like to the app
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{_free_port()}//"
    response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["rabbitmq"]
