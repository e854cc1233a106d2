"""The portal's pages in a real Chromium: no console errors, usable at phone width, and a
screenshot of each page at desktop and phone width in var/screenshots/ for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from tests.browser.portal_b_stack import shoot
from tests.conftest import PASSWORD, SHARED_DIR, TENANTS, owner_email
from tests.live_server import asgi_server


@pytest.fixture(scope="module")
def server_port(django_db_setup: Any, django_db_blocker: Any) -> Iterator[int]:
    """This module's one daphne (replaces conftest's): cameras on loopback may be opened, so
    "Take a new picture" reaches the camera simulator."""
    with django_db_blocker.unblock(), asgi_server(
            extra_env={"CAMERA_URL_ALLOW_LOOPBACK": "1"}) as port:
        yield port


@pytest.fixture(scope="module")
def portal_data(server_port: int, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """A site with two cameras (one counting line with crossings today and last week, one
    zone), made once for the module's pages, removed after."""
    from cameras.models import Camera
    from cameras.services import camera_create, site_create
    from counting.leases import lease_acquire, lease_release
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from counting.services import counting_line_create, zone_create
    from tenants.models import Tenant

    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        # The browser (an asyncio loop in this thread) may already run: set-up is plain ORM.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        tenant = Tenant.objects.get(slug=TENANTS["a"]["slug"])
        with tenant_context(tenant):
            site = site_create(actor=None, name="Portal pages store", timezone="Europe/Berlin",
                               opening_hours={day: [["09:00", "20:00"]] for day in
                                              ("mon", "tue", "wed", "thu", "fri", "sat")})
            camera = camera_create(actor=None, site=site, name="Front door",
                                   stream_url="rtsp://10.0.0.1/", enabled=False)
            broken = camera_create(actor=None, site=site, name="Back door",
                                   stream_url="rtsp://10.0.0.2/")
            # Shown as a camera in trouble. Nothing listens at its address, on loopback: no
            # traffic leaves the machine (and the stream test disables it before dispatching).
            Camera.objects.filter(pk=broken.pk).update(
                stream_url="rtsp://127.0.0.1:9/", status="offline",
                status_reason="gave up after 5 reconnects")
            line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0.1,
                                        x2=0.5, y2=0.9, in_label="entered", out_label="left")
            zone_create(actor=None, camera=camera, name="Shop floor", capacity=40,
                        points=[[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]])
            now = datetime.now(tz=UTC)
            lease = lease_acquire(camera_id=camera.pk, owner="pages", ttl_s=60)
            assert lease is not None
            events = [LedgerEvent(line_id=line.pk, direction="in" if i % 4 else "out",
                                  track_id=i, occurred_at=now - timedelta(minutes=7 * i),
                                  frame_index=i) for i in range(1, 60)]
            events += [LedgerEvent(line_id=line.pk, direction="in", track_id=1000 + i,
                                   occurred_at=now - timedelta(days=7, minutes=9 * i),
                                   frame_index=1000 + i) for i in range(1, 50)]
            ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation, seq=1,
                                     events=tuple(events)))
            lease_release(camera_id=camera.pk, owner="pages", generation=lease.generation)
    yield {"tenant": tenant, "site": site, "camera": camera, "broken": broken, "line": line}


def login(page: Any, port: int, key: str = "a", email: str | None = None,
          password: str = PASSWORD) -> None:
    page.goto(f"http://{TENANTS[key]['domain']}:{port}/accounts/login/")
    page.fill("#id_username", email or owner_email(key))
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


@pytest.fixture
def errors(page: Any) -> list[str]:
    """Console errors and uncaught exceptions of the page (must stay empty)."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.append(str(exc)))
    return seen


def test_dashboard_live_and_at_phone_width(server_port: int, portal_data: Any, page: Any,
                                          errors: list[str]) -> None:
    site = portal_data["site"]
    login(page, server_port)
    card = page.locator(f"section[data-site='{site.pk}']")
    # the live socket's snapshot marks the page live and the chart is drawn
    page.wait_for_selector("[data-live-state]:not([hidden])")
    page.wait_for_function("document.querySelector('[data-live-state]').textContent"
                           ".includes('live')")
    assert card.locator("canvas").count() == 1
    text = card.inner_text()
    assert "Back door" in text and "attempts to reconnect failed" in text
    assert "1 of 2 cameras counting" not in text  # the front door is switched off
    assert "0 of 2 cameras counting" in text
    shoot(page, "dashboard")
    # the phone menu opens and closes by keyboard
    page.set_viewport_size({"width": 390, "height": 844})
    toggle = page.locator(".nav-toggle")
    assert toggle.is_visible() and not page.locator("#main-nav").is_visible()
    toggle.focus()
    page.keyboard.press("Enter")
    assert page.locator("#main-nav").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#main-nav").is_visible()
    assert errors == []


def test_site_page(server_port: int, portal_data: Any, page: Any, errors: list[str]) -> None:
    site = portal_data["site"]
    login(page, server_port)
    page.goto(f"http://{TENANTS['a']['domain']}:{server_port}/sites/{site.pk}/")
    page.wait_for_selector("#occupancy-chart")
    text = page.inner_text("main")
    assert "Opening hours" in text and "Sunday\tClosed" in text
    assert "Front door" in text and "Switched off" in text
    shoot(page, "site")
    assert errors == []


def test_camera_page_and_editor_screens(server_port: int, portal_data: Any, page: Any,
                                        errors: list[str], django_db_blocker: Any) -> None:
    camera = portal_data["camera"]
    base = f"http://{TENANTS['a']['domain']}:{server_port}"
    login(page, server_port)
    page.goto(f"{base}/cameras/{camera.pk}/")
    page.wait_for_selector("#drawing g.drawing-line")
    assert page.locator("#drawing g.drawing-zone").count() == 1
    assert "Switched off" in page.inner_text("main")
    shoot(page, "camera")
    page.goto(f"{base}/cameras/{camera.pk}/editor/")
    page.wait_for_selector("#drawing g.drawing-line")
    # keyboard: add a line, name it, save; the server keeps it
    page.click("#add-line")
    page.fill("#f-name", "Keyboard line")
    page.click("#save")
    page.wait_for_function("document.getElementById('save-status').textContent"
                           ".startsWith('Saved')")
    shoot(page, "editor")
    with django_db_blocker.unblock(), tenant_context(portal_data["tenant"]):
        from counting.models import CountingLine

        line = CountingLine.objects.get(camera=camera, name="Keyboard line")
        assert (line.x1, line.y1, line.x2, line.y2) == (0.2, 0.5, 0.8, 0.5)
    assert errors == []


# -- the real stack: daphne, a Celery stream worker, the camera simulator --------------------
@pytest.fixture(scope="module")
def stack(server_port: int) -> Iterator[dict[str, Any]]:
    """A stream worker on a private queue and the PETS clip served as a live MJPEG camera."""
    from tests.streams.conftest import PETS, camera_simulator, queue_delete, stream_worker

    video = SHARED_DIR / PETS
    if not video.exists():
        pytest.skip(f"PETS video not found at {video}")
    queue = f"test-portal-{datetime.now(tz=UTC):%H%M%S%f}"
    try:
        with camera_simulator(video) as url, stream_worker(queue, concurrency=1):
            yield {"url": url, "queue": queue}
    finally:
        queue_delete(queue)


@pytest.mark.slow
def test_draw_a_line_on_the_picture_save_and_see_a_crossing_counted(
        server_port: int, stack: dict[str, Any], page: Any, errors: list[str],
        django_db_blocker: Any, settings: Any) -> None:
    from cameras.models import Camera
    from cameras.services import camera_create, camera_update, site_create
    from counting.models import CameraSnapshot, CountEvent, CountingLine
    from tenants.models import Tenant
    from tests.streams.conftest import cameras_stop_all, dispatch, wait_for

    base = f"http://{TENANTS['a']['domain']}:{server_port}"
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        tenant = Tenant.objects.get(slug=TENANTS["a"]["slug"])
        with tenant_context(tenant):
            settings.CAMERA_URL_ALLOW_LOOPBACK = True
            site = site_create(actor=None, name="Stack store", timezone="Europe/London")
            camera = camera_create(actor=None, site=site, name="Live PETS camera",
                                   stream_url=stack["url"], detect_fps=5, enabled=False)
    try:
        # given the owner takes a picture of the (not yet counting) camera
        login(page, server_port)
        page.goto(f"{base}/cameras/{camera.pk}/")
        page.click("text=Take a new picture")
        page.wait_for_selector("text=New picture taken", timeout=60000)
        page.wait_for_selector("figure.picture img")
        # when the owner draws a line across the walkway on that picture and saves it
        page.click("text=Edit lines and zones")
        page.wait_for_selector("figure.picture img")
        page.click("[data-tool=line]")
        box = page.locator("#drawing").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.02)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=5)
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.98, steps=5)
        page.mouse.up()
        page.fill("#f-name", "Walkway")
        page.fill("#f-in", "eastbound")
        page.fill("#f-out", "westbound")
        page.click("#save")
        page.wait_for_function("document.getElementById('save-status').textContent"
                               ".startsWith('Saved')")
        shoot(page, "editor-drawn")
        with django_db_blocker.unblock(), tenant_context(tenant):
            line = CountingLine.objects.get(camera=camera)
            assert line.name == "Walkway" and abs(line.x1 - 0.5) < 0.01
            assert CameraSnapshot.objects.get(camera=camera).blurred
            # and the camera runs (enabled through the service, dispatched to the worker);
            # no other camera of the tenant is dispatched (none is ever opened but this one)
            Camera.objects.exclude(pk=camera.pk).update(enabled=False)
            camera_update(actor=None, camera=camera, enabled=True)
            dispatch(tenant, stack["queue"], settings)
        # then a crossing of the new line appears on the camera page by itself
        page.goto(f"{base}/cameras/{camera.pk}/")

        def counted() -> bool:
            with django_db_blocker.unblock(), tenant_context(tenant):
                return CountEvent.objects.filter(line=line).exists()

        wait_for(counted, 150, interval=1, message="a crossing of the drawn line")
        page.wait_for_function(
            f"[...document.querySelectorAll(\"tr[data-line='{line.pk}'] [data-num]\")]"
            ".some((el) => Number(el.dataset.num) > 0)", timeout=30000)
        page.wait_for_selector("#crossings tbody tr:not(.empty-row)")
        assert "Walkway" in page.inner_text("#crossings")
        shoot(page, "camera-counting")
        assert errors == []
    finally:
        with django_db_blocker.unblock():
            cameras_stop_all(tenant, timeout=30, camera_ids=[camera.pk])
