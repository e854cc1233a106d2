"""POST /api/v1/me/password/: the current password guarded like a login, validators on the new
one, one audit event, other sessions ended."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tenants.accounts.users import user_create
from tests.conftest import PASSWORD, TENANTS

URL = "/api/v1/me/password/"
NEW = "Fresh-Harbour-Lantern-42"


@pytest.fixture
def member(tenant_a: Any, in_tenant: Any, owner_of: Any) -> Any:
    with in_tenant(tenant_a):
        return user_create(actor=owner_of("a"), email="member@a.test", password=PASSWORD)


def _session(tenant: Any, user: Any, in_tenant: Any) -> APIClient:
    client = APIClient(HTTP_HOST=TENANTS["a"]["domain"])
    with in_tenant(tenant):
        client.force_login(user)
    return client


def _events(tenant: Any, in_tenant: Any, mark: int) -> list[tuple[str, Any]]:
    with in_tenant(tenant):
        return list(AuditEvent.objects.filter(pk__gt=mark).exclude(action__startswith="auth.")
                    .order_by("pk").values_list("action", "after"))


def _mark(tenant: Any, in_tenant: Any) -> int:
    with in_tenant(tenant):
        return AuditEvent.objects.order_by("-pk").first().pk


def test_changing_ones_password(member: Any, tenant_a: Any, in_tenant: Any) -> None:
    # given two sessions of the same user
    client = _session(tenant_a, member, in_tenant)
    elsewhere = _session(tenant_a, member, in_tenant)
    mark = _mark(tenant_a, in_tenant)
    # when the password is changed from one of them
    response = client.post(URL, {"current_password": PASSWORD, "new_password": NEW},
                           format="json")
    # then it is changed, audited once, this session goes on and the other one ends
    assert response.status_code == 204, response.content
    with in_tenant(tenant_a):
        stored = get_user_model().objects.get(pk=member.pk)
        assert stored.check_password(NEW) and not stored.check_password(PASSWORD)
    assert _events(tenant_a, in_tenant, mark) == [
        ("user.password_change", {"by": "self", "usable": True})]
    assert client.get("/api/v1/me/").status_code == 200
    assert elsewhere.get("/api/v1/me/").status_code in (401, 403)


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"current_password": "not-it", "new_password": NEW}, "current_password",
     "The password is not correct."),
    ({"current_password": PASSWORD, "new_password": "short"}, "new_password",
     "This password is too short. It must contain at least 10 characters."),
    ({"current_password": PASSWORD, "new_password": PASSWORD}, "new_password",
     "The new password is the same as the current one: choose another."),
    ({"current_password": PASSWORD}, "new_password", "This field is required."),
])
def test_a_refused_change_says_why_and_changes_nothing(
        member: Any, tenant_a: Any, in_tenant: Any, body: dict[str, str], field: str,
        message: str) -> None:
    client = _session(tenant_a, member, in_tenant)
    mark = _mark(tenant_a, in_tenant)
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]["fields"][field]
    with in_tenant(tenant_a):
        assert get_user_model().objects.get(pk=member.pk).check_password(PASSWORD)
    assert _events(tenant_a, in_tenant, mark) == []


def test_guessing_the_current_password_locks_out(member: Any, tenant_a: Any,
                                                 in_tenant: Any) -> None:
    client = _session(tenant_a, member, in_tenant)
    codes = [client.post(URL, {"current_password": f"guess{i}", "new_password": NEW},
                         format="json").status_code for i in range(5)]
    assert codes == [400] * 4 + [429]
    right = client.post(URL, {"current_password": PASSWORD, "new_password": NEW}, format="json")
    assert right.status_code == 429 and right.json()["error"]["code"] == "locked_out"
    with in_tenant(tenant_a):
        assert get_user_model().objects.get(pk=member.pk).check_password(PASSWORD)


def test_anonymous_callers_are_refused(tenant_a: Any) -> None:
    client = APIClient(HTTP_HOST=TENANTS["a"]["domain"])
    response = client.post(URL, {"current_password": PASSWORD, "new_password": NEW},
                           format="json")
    assert response.status_code in (401, 403)
