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
