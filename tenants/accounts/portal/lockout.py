"""The page a locked-out sign-in gets (django-axes' lockout callable)."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off, get_failure_limit
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_response(request: HttpRequest, original_response: Any = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """Say that sign-in is paused, for how long, and how to get back in."""
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    return render(request, "registration/lockout.html", {
        "minutes": minutes, "failure_limit": get_failure_limit(request, credentials)},
        status=429)
