"""Users, invitations, your account and sign-in help: every form, every audit event."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tenants.accounts.models import ApiToken
from tests.conftest import PASSWORD, TENANTS
from tests.portal_b.smtp import body_of, smtp_server

LINK = re.compile(r"http://tenant-a\.localhost/accounts/invitation/[^/\s]+/[^/\s]+/")
RESET = re.compile(r"http://tenant-a\.localhost/accounts/reset/[^/\s]+/[^/\s]+/")


@pytest.fixture
def smtp(settings: Any) -> Any:
    with smtp_server() as (port, messages):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        yield messages


def test_an_invitation_arrives_by_smtp_and_its_link_sets_a_password(
        people: Any, logged_in: Any, client_for: Any, smtp: Any, audit_mark: Any,
        tenant_a: Any, in_tenant: Any) -> None:
    owner = logged_in("a", people.owner)
    response = owner.post("/manage/users/", {"email": " New.Person@Example.test ",
                                             "role": "Manager"})
    assert response.status_code == 302
    assert "Invitation sent to new.person@example.test." in owner.get("/manage/users/"
                                                                     ).content.decode()
    assert len(smtp) == 1
    message = smtp[0]
    assert message["To"] == "new.person@example.test"
    assert message["Subject"] == "You are invited to People counting"
    body = body_of(message)
    assert people.owner.username in body
    link = LINK.search(body).group(0)
    with in_tenant(tenant_a):
        invited = get_user_model().objects.get(username="new.person@example.test")
        assert not invited.has_usable_password() and invited.is_staff
    # the invited person opens the link on the tenant's domain and chooses a password
    guest = client_for("a")
    path = link.removeprefix("http://tenant-a.localhost")
    assert "Choose a password" in guest.get(path).content.decode()
    mismatch = guest.post(path, {"password1": "Walrus-Lantern-42", "password2": "other"})
    assert "The two passwords differ" in mismatch.content.decode()
    weak = guest.post(path, {"password1": "12345", "password2": "12345"})
    assert "too short" in weak.content.decode()
    done = guest.post(path, {"password1": "Walrus-Lantern-42", "password2": "Walrus-Lantern-42"})
    assert done.status_code == 302 and done["Location"] == "/"
    assert guest.get("/account/").status_code == 200  # signed in
    # the link worked once
    used = client_for("a").get(path)
    assert used.status_code == 400 and "does not work" in used.content.decode()
    signin = client_for("a").post("/accounts/login/", {"username": "new.person@example.test",
                                                       "password": "Walrus-Lantern-42"})
    assert signin.status_code == 302 and signin["Location"] == "/"
    with in_tenant(tenant_a):
        invited.refresh_from_db()
        assert invited.check_password("Walrus-Lantern-42")
    events = audit_mark()
    assert ("user.invite", people.owner.username, str(invited.pk)) in events
    assert ("user.invite_accept", invited.username, str(invited.pk)) in events


def test_invitation_errors_and_resend(people: Any, logged_in: Any, smtp: Any,
                                      audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    owner = logged_in("a", people.owner)
    bad = owner.post("/manage/users/", {"email": "not-an-address", "role": "Viewer"})
    assert "&#x27;not-an-address&#x27; is not a valid e-mail address." in bad.content.decode()
    empty = owner.post("/manage/users/", {"email": "", "role": "Viewer"})
    assert "This field is required." in empty.content.decode()
    taken = owner.post("/manage/users/", {"email": people.viewer.username, "role": "Viewer"})
    assert "already exists" in taken.content.decode()
    owner.post("/manage/users/", {"email": "resend@a.test", "role": "Viewer"})
    with in_tenant(tenant_a):
        invited = get_user_model().objects.get(username="resend@a.test")
    detail = owner.get(f"/manage/users/{invited.pk}/").content.decode()
    assert "Resend invitation" in detail
    assert owner.post(f"/manage/users/{invited.pk}/resend/").status_code == 302
    assert [m["To"] for m in smtp] == ["resend@a.test", "resend@a.test"]
    # an active user with a password has nothing to resend
    owner.post(f"/manage/users/{people.viewer.pk}/resend/")
    assert len(smtp) == 2
    actions = [a for a, _, t in audit_mark() if t == str(invited.pk)]
    assert actions == ["user.invite", "user.invite_resend"]


def test_an_unreachable_mail_server_keeps_the_invitation_and_says_what_to_do(
        people: Any, logged_in: Any, settings: Any, tenant_a: Any, in_tenant: Any) -> None:
    from tests.live_server import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    owner = logged_in("a", people.owner)
    response = owner.post("/manage/users/", {"email": "nomail@a.test", "role": "Viewer"},
                          follow=True)
    text = response.content.decode()
    assert "could not be sent" in text and "Resend invitation" in text
    with in_tenant(tenant_a):
        assert get_user_model().objects.filter(username="nomail@a.test").exists()


def test_an_owner_changes_a_role_deactivates_and_reactivates(
        people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    owner = logged_in("a", people.owner)
    assert owner.post(f"/manage/users/{people.viewer.pk}/", {"role": "Manager"}
                      ).status_code == 302
    assert owner.post(f"/manage/users/{people.viewer.pk}/deactivate/").status_code == 302
    assert owner.post(f"/manage/users/{people.viewer.pk}/reactivate/").status_code == 302
    bad = owner.post(f"/manage/users/{people.viewer.pk}/", {"role": "King"})
    assert "Select a valid choice." in bad.content.decode()
    # the last Owner cannot demote themself
    last = owner.post(f"/manage/users/{people.owner.pk}/", {"role": "Viewer"})
    assert "last active Owner" in last.content.decode()
    with in_tenant(tenant_a):
        viewer = get_user_model().objects.get(pk=people.viewer.pk)
        assert viewer.is_active and viewer.is_staff
    actions = [a for a, _, t in audit_mark() if t == str(people.viewer.pk)]
    assert actions == ["user.update", "user.update", "user.update"]


def test_an_owner_grants_a_viewer_a_site_and_a_camera(
        people: Any, logged_in: Any, audit_mark: Any, tenant_a: Any, in_tenant: Any) -> None:
    owner = logged_in("a", people.owner)
    url = f"/manage/users/{people.viewer.pk}/access/"
    page = owner.get(url).content.decode()
    assert "PB site" in page and "PB other camera" in page
    response = owner.post(url, {"grant": [f"site-{people.site.pk}-view",
                                          f"camera-{people.other_camera.pk}-change"]})
    assert response.status_code == 302
    viewer = logged_in("a", people.viewer)
    assert viewer.get(f"/manage/cameras/{people.other_camera.pk}/").status_code == 200
    assert viewer.get(f"/manage/cameras/{people.camera.pk}/").status_code == 404
    owner.post(url, {"grant": [f"site-{people.site.pk}-view"]})  # take the camera back
    assert logged_in("a", people.viewer).get(
        f"/manage/cameras/{people.other_camera.pk}/").status_code == 404
    assert [a for a, _, _ in audit_mark()] == ["permission.grant", "permission.grant",
                                               "permission.revoke"]


def test_a_manager_may_not_manage_users(people: Any, logged_in: Any) -> None:
    manager = logged_in("a", people.manager)
    assert manager.get("/manage/users/").status_code == 403
    assert manager.post("/manage/users/", {"email": "x@a.test", "role": "Owner"}
                        ).status_code == 403
    assert manager.post(f"/manage/users/{people.viewer.pk}/deactivate/").status_code == 403
    assert manager.get("/manage/audit/").status_code == 200


def test_tokens_are_shown_once_and_revoked(people: Any, logged_in: Any, audit_mark: Any,
                                           tenant_a: Any, in_tenant: Any) -> None:
    client = logged_in("a", people.viewer)
    created = client.post("/account/tokens/new/", {"name": "BI export", "expires_in_days": 30})
    text = created.content.decode()
    plaintext = re.search(r'id="token-plaintext">(pc_[^<]+)<', text).group(1)
    assert created["Cache-Control"].startswith("max-age=0")
    later = client.get("/account/").content.decode()
    assert plaintext not in later and "BI export" in later
    from django.test import Client

    api = Client(HTTP_HOST=TENANTS["a"]["domain"], HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert api.get("/api/v1/me/").status_code == 200
    with in_tenant(tenant_a):
        token = ApiToken.objects.get(user=people.viewer, name="BI export")
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert api.get("/api/v1/me/").status_code == 401
    bad = client.post("/account/tokens/new/", {"name": "", "expires_in_days": 999})
    assert bad.status_code == 400
    assert "Ensure this value is less than or equal to 365." in bad.content.decode()
    # another user's token is a 404
    assert logged_in("a", people.granted).post(
        f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert [a for a, _, _ in audit_mark()] == ["token.create", "token.revoke"]


def test_a_password_change_keeps_you_signed_in(people: Any, logged_in: Any, tenant_a: Any,
                                               in_tenant: Any, audit_mark: Any) -> None:
    client = logged_in("a", people.granted)
    wrong = client.post("/account/", {"old_password": "nope", "new_password1": "x",
                                      "new_password2": "y"})
    assert wrong.status_code == 400 and "Your old password was entered incorrectly" in (
        wrong.content.decode())
    response = client.post("/account/", {"old_password": PASSWORD,
                                         "new_password1": "Otter-Kayak-Harbour-7",
                                         "new_password2": "Otter-Kayak-Harbour-7"})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    with in_tenant(tenant_a):
        assert get_user_model().objects.get(pk=people.granted.pk).check_password(
            "Otter-Kayak-Harbour-7")
    # recorded once, by the auth signal that audits every password change
    assert audit_mark() == [("user.password_change", people.granted.username,
                             str(people.granted.pk))]


def test_password_reset_by_email(people: Any, client_for: Any, smtp: Any, tenant_a: Any,
                                 in_tenant: Any) -> None:
    client = client_for("a")
    assert "Forgot your password?" in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password-reset/", {"email": people.viewer.email})
    assert response.status_code == 302
    unknown = client.post("/accounts/password-reset/", {"email": "nobody@a.test"})
    assert unknown.status_code == 302  # the same answer: addresses are not disclosed
    assert [m["To"] for m in smtp] == [people.viewer.email]
    link = RESET.search(body_of(smtp[0])).group(0).removeprefix("http://tenant-a.localhost")
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "Heron-Quarry-Lamp-5",
                                                   "new_password2": "Heron-Quarry-Lamp-5"})
    assert done.status_code == 302
    with in_tenant(tenant_a):
        assert get_user_model().objects.get(pk=people.viewer.pk).check_password(
            "Heron-Quarry-Lamp-5")
    assert "no longer works" in client_for("a").get(link, follow=True).content.decode()


def test_a_locked_out_sign_in_says_for_how_long_and_what_to_do(
        people: Any, client_for: Any, settings: Any) -> None:
    client = client_for("a")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": people.viewer.username,
                                         "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": people.viewer.username,
                                              "password": PASSWORD})
    text = locked.content.decode()
    assert locked.status_code == 429
    assert "Sign-in paused" in text and "for 15 minutes" in text
    assert "/accounts/password-reset/" in text
