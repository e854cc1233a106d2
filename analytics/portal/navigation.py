"""The portal's main navigation, offered to every template as ``portal_nav``.

Each entry names the URL names that may serve it, first found wins: a page that has not been
built (or is not routed on this domain, such as the public schema's platform admin) is simply
not linked, so the navigation never points at a 404. Pages built later only need to use one of
these names (docs/portal.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, get_urlconf, reverse


@dataclass(frozen=True, slots=True)
class NavEntry:
    """One link of the main navigation as the template renders it."""

    label: str
    url: str
    active: bool
    count: int | None = None  # shown beside the label: open alerts for "Alerts"


# label, URL names tried in order, model permissions of which the user needs one (empty: all)
NAVIGATION: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Dashboard", ("dashboard",), ()),
    ("History", ("history",), ()),
    ("Manage", ("manage", "manage-sites"),
     ("cameras.change_site", "cameras.change_camera", "auth.change_user")),
    ("Alerts", ("alerts", "alert-list", "alerts-list"), ()),
    ("Reports", ("reports",), ()),
    ("Account", ("account",), ()),
)

_resolved: dict[str | None, list[tuple[str, str, tuple[str, ...]]]] = {}


def _links() -> list[tuple[str, str, tuple[str, ...]]]:
    """(label, path, perms) of the entries routed in the current URL conf, computed once."""
    urlconf = get_urlconf()
    key = urlconf if isinstance(urlconf, str) or urlconf is None else repr(urlconf)
    if key not in _resolved:
        links = []
        for label, names, perms in NAVIGATION:
            for name in names:
                try:
                    links.append((label, reverse(name, urlconf=urlconf), perms))
                    break
                except NoReverseMatch:
                    continue
        _resolved[key] = links
    return _resolved[key]


def navigation_for(*, request: HttpRequest) -> list[NavEntry]:
    """The links ``request.user`` may follow, the one of the current page marked active."""
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    entries = []
    for label, url, perms in _links():
        if perms and not any(user.has_perm(perm) for perm in perms):
            continue
        # Pages under one section share its first path segment (/manage/sites/, /manage/users/).
        active = (request.path == url if url == "/"
                  else request.path.split("/")[1] == url.split("/")[1])
        count = None
        if label == "Alerts":
            from analytics.alerts.selectors import alert_open_count_for

            count = alert_open_count_for(user=user)
        entries.append(NavEntry(label=label, url=url, active=active, count=count))
    return entries


def portal_nav(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``portal_nav`` for templates/base.html."""
    return {"portal_nav": navigation_for(request=request)}


def first_url(*names: str, args: tuple[Any, ...] = (), default: str = "") -> str:
    """The path of the first of ``names`` that is routed (with ``args``), else ``default``.

    Lets a page link to a page another part of the portal provides (the Manage forms) and fall
    back to the admin while that page does not exist.
    """
    for name in names:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return default
