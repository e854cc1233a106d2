"""Managing the account in Chromium as a new customer would: first site and camera (with a
connection test that shows a snapshot or says why not), invite a colleague whose e-mail
arrives at a real SMTP server and whose link sets a password, grant them one camera, create and
revoke a token, read the audit log; the Viewer sees only what was granted. Screenshots of every
page at desktop and phone width in var/screenshots/."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from tests.api.test_snapshot import _MjpegHandler
from tests.browser.portal_b_stack import console_errors, login, shoot, throwaway_tenant
from tests.live_server import asgi_server
from tests.portal_b.smtp import body_of, smtp_server


@pytest.fixture(scope="module")
def manage_stack(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """daphne with a loopback SMTP server and loopback cameras allowed, a fresh tenant and a
    local MJPEG camera."""
    camera = ThreadingHTTPServer(("127.0.0.1", 0), _MjpegHandler)
    camera.daemon_threads = True
    threading.Thread(target=camera.serve_forever, daemon=True).start()
    with smtp_server() as (smtp_port, inbox), django_db_blocker.unblock(), asgi_server(
            extra_env={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp_port),
                       "CAMERA_URL_ALLOW_LOOPBACK": "true"}) as port, \
            throwaway_tenant(django_db_blocker) as stack:
        yield {**stack, "base": f"http://{stack['domain']}:{port}", "inbox": inbox,
               "camera_url": f"http://127.0.0.1:{camera.server_address[1]}/video.mjpg"}
    camera.shutdown()
    camera.server_close()


def _text(page: Any) -> str:
    return str(page.inner_text("main"))


def test_a_new_owner_sets_up_the_account_and_a_viewer_sees_only_their_camera(
        manage_stack: Any, browser: Any, django_db_blocker: Any) -> None:
    base, inbox = manage_stack["base"], manage_stack["inbox"]
    context = browser.new_context()
    page = context.new_page()
    errors = console_errors(page)
    login(page, base, manage_stack["owner_email"])

    # Sites: empty, then a form that says what is wrong, then the first site
    page.click("#main-nav >> text=Manage")
    assert "No site yet" in _text(page)
    shoot(page, "manage-sites-empty")
    page.click("text=Add your first site")
    page.fill("#id_name", "Harbour mall")
    page.select_option("#id_timezone", "Europe/Paris")
    page.fill("#id_mon_open1", "09:00")
    page.fill("#id_tue_open1", "18:00")
    page.fill("#id_tue_close1", "09:00")
    page.click("form.card button[type=submit]")
    text = _text(page)
    assert "Monday: give both the opening and the closing time" in text
    assert "Tuesday: the closing time must be after the opening time" in text
    shoot(page, "manage-site-form-errors")
    page.fill("#id_mon_close1", "19:00")
    page.fill("#id_tue_open1", "09:00")
    page.fill("#id_tue_close1", "12:00")
    page.fill("#id_tue_open2", "14:00")
    page.fill("#id_tue_close2", "19:00")
    page.click("form.card button[type=submit]")
    assert "Site “Harbour mall” added. Now add its cameras." in page.inner_text(".messages")

    # Camera: a refused address is explained in place, a working one shows its picture
    page.fill("#id_name", "North entrance")
    page.fill("#id_stream_url", "ftp://cameras.example/stream")
    page.click("#test-connection")
    page.wait_for_selector("#connection-result [role=alert]")
    assert "Connection failed: This address may not be used" in page.inner_text(
        "#connection-result")
    page.fill("#id_stream_url", manage_stack["camera_url"])
    page.click("#test-connection")
    page.wait_for_selector("#connection-result img")
    assert "Connected: the camera sent a 160×120 picture." in page.inner_text(
        "#connection-result")
    shoot(page, "manage-camera-form-tested")
    page.uncheck("#id_enabled")  # no stream worker runs in this test
    page.click("#camera-form button[type=submit]:not(#test-connection)")
    assert "Camera “North entrance” added." in page.inner_text(".messages")
    page.goto(f"{base}/manage/cameras/")
    page.click("text=Enable")
    assert "is enabled" in page.inner_text(".messages")
    page.click("text=Disable")
    assert "is disabled" in page.inner_text(".messages")
    shoot(page, "manage-cameras")
    page.goto(f"{base}/manage/sites/")
    assert "Mon 09:00–19:00; Tue 09:00–12:00, 14:00–19:00" in _text(page)
    shoot(page, "manage-sites")

    # Users: invite a colleague as Viewer; the e-mail arrives by SMTP
    page.goto(f"{base}/manage/users/")
    page.fill("#id_email", "colleague@harbour.test")
    page.select_option("#id_role", "Viewer")
    page.click("text=Send invitation")
    assert "Invitation sent to colleague@harbour.test." in page.inner_text(".messages")
    assert "Invited, not signed in yet" in _text(page)
    shoot(page, "manage-users")
    assert [m["To"] for m in inbox] == ["colleague@harbour.test"]
    link = re.search(r"http://\S+/accounts/invitation/\S+/", body_of(inbox[0])).group(0)
    assert link.startswith(base)

    # Access: grant the colleague the camera only
    page.click("td a:has-text('colleague@harbour.test')")
    shoot(page, "manage-user")
    page.click("text=Sites and cameras…")
    page.get_by_label("view North entrance").check()
    page.click("text=Save access")
    assert "(1 change)" in page.inner_text(".messages")
    shoot(page, "manage-user-access")

    # Account: a token is shown once, then revoked
    page.click("#main-nav >> text=Account")
    page.fill("#id_name", "BI export")
    page.click("text=Create token")
    token = page.inner_text("#token-plaintext")
    assert token.startswith("pc_")
    shoot(page, "account-token-shown")
    page.goto(f"{base}/account/")
    assert token not in page.content()
    page.click("text=Revoke")
    assert "Token “BI export” revoked." in page.inner_text(".messages")
    shoot(page, "account")

    # Audit log, filtered
    page.goto(f"{base}/manage/audit/")
    page.select_option("#id_action", "camera.create")
    page.click("text=Filter")
    assert "1 event." in _text(page) and "North entrance" in _text(page)
    page.goto(f"{base}/manage/audit/")
    shoot(page, "manage-audit")
    assert errors == []

    # The colleague opens the link, chooses a password and is signed in
    guest_context = browser.new_context()
    guest = guest_context.new_page()
    guest_errors = console_errors(guest)
    guest.goto(link)
    shoot(guest, "invitation-accept")
    guest.fill("#id_password1", "Pelican-Lighthouse-8")
    guest.fill("#id_password2", "Pelican-Lighthouse-8")
    guest.click("text=Set password and sign in")
    guest.wait_for_load_state("networkidle")
    assert guest.url == f"{base}/"
    nav = guest.inner_text("#main-nav")
    assert "Manage" not in nav and "History" in nav
    # history offers the granted camera only
    guest.goto(f"{base}/history/")
    options = guest.locator("#id_series option").all_inner_texts()
    assert [o.strip() for o in options] == ["Camera North entrance"]
    # pages and links of what was not granted are refused
    guest.goto(f"{base}/manage/users/")
    assert "Only an Owner manages users." in _text(guest)
    shoot(guest, "error-403")
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        from cameras.models import Camera

        with tenant_context(manage_stack["tenant"]):
            camera_id = Camera.objects.get(name="North entrance").pk
    response = guest.goto(f"{base}/manage/cameras/{camera_id}/")
    assert response.status == 404 and "Page not found" in _text(guest)
    shoot(guest, "error-404")
    cameras = guest.goto(f"{base}/manage/cameras/")
    assert cameras.status == 200 and "North entrance" not in _text(guest)
    # the browser logs the two refusals above as failed loads; nothing else went wrong
    assert guest_errors == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)",
        "Failed to load resource: the server responded with a status of 404 (Not Found)"]
    guest_context.close()
    context.close()

    # every change above is in the audit trail, by its author
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        from audit.models import AuditEvent

        with tenant_context(manage_stack["tenant"]):
            actions = list(AuditEvent.objects.exclude(action__startswith="auth.")
                           .order_by("pk").values_list("action", "actor_name"))
    owner = manage_stack["owner_email"]
    assert [a for a in actions if a[1] == owner] == [
        ("site.create", owner), ("camera.create", owner), ("camera.enable", owner),
        ("camera.disable", owner), ("user.invite", owner), ("permission.grant", owner),
        ("token.create", owner), ("token.revoke", owner)]
    assert ("user.invite_accept", "colleague@harbour.test") in actions


def test_sign_in_help_pages(manage_stack: Any, page: Any) -> None:
    errors = console_errors(page)
    base, inbox = manage_stack["base"], manage_stack["inbox"]
    page.goto(f"{base}/accounts/login/")
    shoot(page, "login")
    page.click("text=Forgot your password?")
    page.fill("#id_email", manage_stack["owner_email"])
    shoot(page, "password-reset")
    page.click("text=Send the link")
    assert "Check your e-mail" in _text(page)
    message = inbox[-1]
    assert message["To"] == manage_stack["owner_email"]
    link = re.search(r"http://\S+/accounts/reset/\S+/", body_of(message)).group(0)
    page.goto(link)
    shoot(page, "password-reset-confirm")
    page.fill("#id_new_password1", "Quokka-Meadow-Lantern-3")
    page.fill("#id_new_password2", "Quokka-Meadow-Lantern-3")
    page.click("text=Save the password")
    assert "Password saved" in _text(page)
    login(page, base, manage_stack["owner_email"], "Quokka-Meadow-Lantern-3")
    assert page.url == f"{base}/"
    assert errors == []
