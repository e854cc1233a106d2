"""The portal as a user meets it: log in on the tenant's domain, see only that tenant's cameras."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import tenant_context

from tests.conftest import PASSWORD, REPO_ROOT, TENANTS, owner_email


def _login(page: Any, port: int, key: str, password: str = PASSWORD) -> None:
    page.goto(f"http://{TENANTS[key]['domain']}:{port}/")
    page.fill("#id_username", owner_email(key))
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_owner_logs_in_and_sees_only_own_cameras(server_port: int, page: Any,
                                                 django_db_blocker: Any) -> None:
    from cameras.models import Camera, Site
    from tenants.models import Tenant

    with django_db_blocker.unblock():
        made = []
        for key in ("a", "b"):
            tenant = Tenant.objects.get(slug=TENANTS[key]["slug"])
            with tenant_context(tenant):
                site = Site.objects.create(name=f"Browser site {key}")
                made.append((tenant, Camera.objects.create(
                    site=site, name=f"Browser camera {key.upper()}",
                    stream_url="rtsp://10.0.0.1/")))
    try:
        # given the owner of tenant A logs in on A's domain
        _login(page, server_port, "a")
        # then the dashboard lists A's camera and not B's
        page.wait_for_selector(".site-card")
        text = page.inner_text("main")
        assert "Browser camera A" in text and "Browser camera B" not in text
        page.screenshot(path=str(REPO_ROOT / "var" / "portal-dashboard.png"))
    finally:
        with django_db_blocker.unblock():
            for tenant, camera in made:
                with tenant_context(tenant):
                    site = camera.site
                    camera.delete()
                    site.delete()


def test_a_wrong_password_says_what_to_do(server_port: int, page: Any) -> None:
    _login(page, server_port, "b", password="not-the-password")
    assert "did not match" in page.inner_text("main")
    assert page.url.endswith("/accounts/login/?next=/") or "/accounts/login/" in page.url
