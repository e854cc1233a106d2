"""Friendly 403, 404 and 500 pages; never a traceback outside DEBUG."""

from __future__ import annotations

from typing import Any

from django.test import RequestFactory
from django.views.defaults import server_error


def test_a_missing_page_is_a_friendly_404(people: Any, logged_in: Any, client_for: Any) -> None:
    response = logged_in("a", people.viewer).get("/no/such/page/")
    text = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in text and "Go to the dashboard" in text
    assert "Traceback" not in text and "urlpatterns" not in text


def test_a_refused_page_says_why(people: Any, logged_in: Any) -> None:
    response = logged_in("a", people.viewer).get("/manage/users/")
    text = response.content.decode()
    assert response.status_code == 403
    assert "Only an Owner manages users." in text and "An Owner of your organisation" in text


def test_the_500_page_is_plain_words_without_details(settings: Any) -> None:
    assert settings.DEBUG is False
    request = RequestFactory().get("/")
    response = server_error(request)
    text = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in text and "Traceback" not in text


def test_signed_in_403_and_404_are_friendly_under_daphne(django_db_setup: Any,
                                                         django_db_blocker: Any) -> None:
    """ASGI renders error pages in another thread (another connection): still the tenant's."""
    import http.client

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_tenants.utils import tenant_context

    from tenants.models import Tenant
    from tests.live_server import asgi_server

    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug="tenant_a")
        with tenant_context(tenant):
            user, _ = get_user_model().objects.get_or_create(username="errors@a.test")
            client = Client(HTTP_HOST="tenant-a.localhost")
            client.force_login(user)
            cookie = client.cookies["sessionid"].value
        with asgi_server() as port:
            pages = {}
            for path in ("/no/such/page/", "/manage/users/"):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                conn.request("GET", path, headers={"Host": "tenant-a.localhost",
                                                   "Cookie": f"sessionid={cookie}"})
                response = conn.getresponse()
                pages[path] = (response.status, response.read().decode())
                conn.close()
    assert pages["/no/such/page/"][0] == 404 and "Page not found" in pages["/no/such/page/"][1]
    assert pages["/manage/users/"][0] == 403
    assert "Only an Owner manages users." in pages["/manage/users/"][1]
    assert "errors@a.test" in pages["/manage/users/"][1]  # the layout knows who is signed in


def test_a_form_sent_without_its_csrf_token_says_to_reload(db: Any) -> None:
    from django.test import Client

    from tests.conftest import TENANTS

    client = Client(HTTP_HOST=TENANTS["a"]["domain"], enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x@a.test", "password": "x"})
    text = response.content.decode()
    assert response.status_code == 403
    assert "Please try again" in text and "nothing was saved" in text
    assert "CSRF" not in text
