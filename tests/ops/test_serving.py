"""Production serving (scripts/serve.sh: gunicorn + uvicorn workers): a page, a static file, the
API and a live WebSocket through it, and /metrics summing the workers (multiprocess mode).
Bounded: loopback only, a few requests, the server stopped at the end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client
from websockets.sync.client import connect as ws_connect

from tests import celery_worker
from tests.celery_worker import REPO_ROOT, stop_process_group
from tests.conftest import PASSWORD
from tests.live_server import free_port
from tests.ops.test_metrics import sample

pytestmark = pytest.mark.slow
TOKEN = "serving-test-token-0123456789abcdef"
WORKERS = 2


@pytest.fixture(scope="module")
def live_db(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def tenant(live_db: None) -> Iterator[dict[str, Any]]:
    """A committed tenant with a camera, and its owner's session cookie."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django_tenants.utils import tenant_context

    from cameras.services import camera_create, site_create
    from tenants.platform.services import tenant_create, tenant_delete

    slug = f"serve_{uuid.uuid4().hex[:8]}"
    domain = f"{slug.replace('_', '-')}.localhost"
    owner = f"owner@{domain}"
    made = tenant_create(name=slug, slug=slug, domain=domain, owner_email=owner,
                         owner_password=PASSWORD).tenant
    client = Client(HTTP_HOST=domain)
    with tenant_context(made):
        site = site_create(actor=None, name="Served site")
        camera = camera_create(actor=None, site=site, name="Served door",
                               stream_url="rtsp://10.0.0.1/")
        client.force_login(get_user_model().objects.get(username=owner))
    connection.set_schema_to_public()
    yield {"slug": slug, "domain": domain, "camera": camera,
           "cookie": client.cookies["sessionid"].value}
    connection.set_schema_to_public()
    tenant_delete(slug=slug)


@pytest.fixture(scope="module")
def server(tenant: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """scripts/serve.sh on a free loopback port with two workers, on the test database."""
    port = free_port()
    metrics_dir = tmp_path_factory.mktemp("metrics")
    env = {**os.environ, **celery_worker.test_process_env(), "WEB_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": str(WORKERS), "METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "VENV": str(REPO_ROOT / ".venv"),
           "DATABASE_POOL": "true", "WEB_LOG_LEVEL": "warning"}
    log_path = Path(tmp_path_factory.mktemp("serve")) / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(["bash", "scripts/serve.sh"], cwd=REPO_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"serve.sh exited: {log_path.read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    if len(workers_of(process.pid)) == WORKERS:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            else:
                raise RuntimeError(f"no {WORKERS} workers on {port}: {log_path.read_text()}")
            yield port, process
        finally:
            stop_process_group(process, timeout_s=20)


def workers_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def get(port: int, path: str, tenant: dict[str, Any], **headers: str) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}{path}", timeout=15, allow_redirects=False,
                        headers={"Host": tenant["domain"],
                                 "Cookie": f"sessionid={tenant['cookie']}", **headers})


def test_a_page_static_files_and_the_api_through_the_workers(
        server: tuple[int, subprocess.Popen[bytes]], tenant: dict[str, Any]) -> None:
    port, process = server
    # the master runs the configured number of worker processes
    assert len(workers_of(process.pid)) == WORKERS
    # a portal page
    page = get(port, f"/cameras/{tenant['camera'].pk}/", tenant)
    assert page.status_code == 200, page.text[:500]
    assert "Served door" in page.text
    # a static file through WhiteNoise
    static = get(port, "/static/vendor/htmx.min.js", tenant)
    assert static.status_code == 200
    assert static.headers["Content-Type"].startswith("text/javascript")
    # the API
    api = get(port, "/api/v1/cameras/", tenant)
    assert api.status_code == 200, api.text[:500]
    assert [c["name"] for c in api.json()["results"]] == ["Served door"]


def test_a_websocket_through_the_workers_and_metrics_summed_over_them(
        server: tuple[int, subprocess.Popen[bytes]], tenant: dict[str, Any]) -> None:
    port, _ = server
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    with ws_connect(f"ws://{tenant['domain']}:{port}/ws/cameras/{tenant['camera'].pk}/",
                    sock=sock, open_timeout=15,
                    additional_headers={"Origin": f"http://{tenant['domain']}",
                                        "Cookie": f"sessionid={tenant['cookie']}"}) as ws:
        first = json.loads(ws.recv(timeout=15))
        assert first["type"] == "snapshot"
        # while it is open, every worker's scrape counts it (whichever worker holds it)
        seen = []
        for _ in range(4):
            text = get(port, "/metrics", tenant, Authorization=f"Bearer {TOKEN}").text
            seen.append(sample(text, "peoplecount_websocket_connections",
                               tenant=tenant["slug"], kind="camera",
                               id=str(tenant["camera"].pk)))
        assert seen == [1.0] * 4
        assert (sample(text, "django_http_requests_total_by_method_total", method="GET")
                or 0) >= 1
    # and anonymous scrapes are refused here too
    assert get(port, "/metrics", tenant).status_code == 401
