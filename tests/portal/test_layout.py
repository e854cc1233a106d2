"""The portal's layout: navigation to the pages that exist, messages, static libraries."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

pytestmark = pytest.mark.django_db


def _viewer(tenant: Any) -> Any:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(username="viewer@a.test", email="viewer@a.test",
                                                password="Correct-Horse-Battery-9")
    user.groups.add(Group.objects.get(name="Viewer"))
    return user


def test_the_layout_links_the_dashboard_and_loads_vendored_htmx(tenant_a: Any, owner_of: Any,
                                                                logged_in: Any) -> None:
    # given the owner of tenant A
    with tenant_context(tenant_a):
        owner = owner_of("a")
    # when the dashboard is opened
    response = logged_in("a", owner).get("/")
    html = response.content.decode()
    # then the navigation links the dashboard as the current page and htmx comes from /static/
    assert response.status_code == 200
    assert '<a href="/" aria-current="page">Dashboard</a>' in html
    assert 'src="/static/vendor/htmx.min.js"' in html
    assert "cdn" not in html.lower()
    assert 'href="#main"' in html  # skip link for keyboard users


def test_manage_is_not_offered_to_a_viewer(tenant_a: Any, logged_in: Any) -> None:
    from analytics.portal.navigation import NAVIGATION

    with tenant_context(tenant_a):
        viewer = _viewer(tenant_a)
    html = logged_in("a", viewer).get("/").content.decode()
    assert ">Dashboard</a>" in html
    assert ">Manage</a>" not in html
    assert [label for label, _, _ in NAVIGATION] == [
        "Dashboard", "History", "Manage", "Alerts", "Reports", "Account"]


def test_messages_are_shown_under_the_top_bar(tenant_a: Any, owner_of: Any, rf: Any) -> None:
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.template.loader import render_to_string

    with tenant_context(tenant_a):
        request = rf.get("/")
        request.user = owner_of("a")
        request.session = {}
        storage = FallbackStorage(request)
        storage.add(25, "Site saved.")
        request._messages = storage
        html = render_to_string("base.html", request=request)
    assert '<li class="message message-success">Site saved.</li>' in html
    assert 'role="status"' in html
