"""The live camera page: today's totals on load, then a committed crossing appears by itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django_tenants.utils import tenant_context

from tests.browser.test_portal import _login
from tests.conftest import REPO_ROOT, TENANTS


def test_a_committed_crossing_shows_up_on_the_open_camera_page(server_port: int, page: Any,
                                                              django_db_blocker: Any) -> None:
    from cameras.services import camera_create, site_create
    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from counting.live.publish import publish_camera_counts
    from counting.services import counting_line_create
    from tenants.models import Tenant

    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug=TENANTS["a"]["slug"])
        with tenant_context(tenant):
            site = site_create(actor=None, name="Live site", timezone="UTC")
            camera = camera_create(actor=None, site=site, name="Live cam",
                                   stream_url="rtsp://10.0.0.1/", enabled=False)
            line = counting_line_create(actor=None, camera=camera, name="Entrance", x1=0.5,
                                        y1=0, x2=0.5, y2=1, in_label="entered",
                                        out_label="left")
            lease = lease_acquire(camera_id=camera.pk, owner="browser-test", ttl_s=60)
            assert lease is not None
    # given the owner has the camera page open
    _login(page, server_port, "a")
    page.goto(f"http://{TENANTS['a']['domain']}:{server_port}/cameras/{camera.pk}/")
    page.wait_for_selector(f"tr[data-line='{line.pk}']")
    assert page.inner_text(f"tr[data-line='{line.pk}']").split("\t") == [
        "Entrance", "0 entered", "0 left"]
    page.wait_for_function("document.querySelector('[data-live-state]').textContent"
                           ".includes('live')")
    # when the runner commits a crossing and publishes it
    with django_db_blocker.unblock(), tenant_context(tenant):
        event = LedgerEvent(line_id=line.pk, direction="in", track_id=7,
                            occurred_at=datetime.now(tz=UTC), frame_index=1)
        ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation, seq=1,
                                 events=(event,)))
        publish_camera_counts(schema=tenant.schema_name, camera_id=camera.pk, site_id=site.pk,
                              site_tz="UTC", events=[event], wait=True)
    # then the page shows it without a reload
    page.wait_for_function(
        f"document.querySelector(\"tr[data-line='{line.pk}']\").innerText.includes('1 entered')",
        timeout=5000)
    page.screenshot(path=str(REPO_ROOT / "var" / "portal-camera-live.png"))
