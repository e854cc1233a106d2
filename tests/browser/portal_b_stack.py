"""A throw-away tenant for the history and management browser tests, and page helpers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import PASSWORD, REPO_ROOT

SHOTS = REPO_ROOT / "var" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


@contextmanager
def throwaway_tenant(django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """A committed tenant (visible to daphne), dropped afterwards with all it holds."""
    from tenants.platform.services import tenant_create, tenant_delete

    slug = f"pb_{uuid.uuid4().hex[:8]}"
    domain = f"{slug.replace('_', '-')}.localhost"
    owner = f"owner@{slug.replace('_', '-')}.test"
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        made = tenant_create(name=f"Browser {slug}", slug=slug, domain=domain,
                             owner_email=owner, owner_password=PASSWORD)
    try:
        yield {"tenant": made.tenant, "domain": domain, "owner_email": owner}
    finally:
        with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
            patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
            from django.db import connection

            connection.set_schema_to_public()
            tenant_delete(slug=slug)


def login(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


# What the browser fetched for the page: the document and every resource, in bytes as sent
# (encodedBodySize: compressed where the server compressed, 0 for nothing) and as decoded.
_PAGE_WEIGHT_JS = """() => {
  const entries = [...performance.getEntriesByType('navigation'),
                   ...performance.getEntriesByType('resource')];
  return {requests: entries.length,
          encoded: entries.reduce((n, e) => n + (e.encodedBodySize || 0), 0),
          decoded: entries.reduce((n, e) => n + (e.decodedBodySize || 0), 0)};
}"""


def page_weight_record(page: Any, name: str) -> dict[str, Any]:
    """Append the current page's weight to ``var/screenshots/page-weight.jsonl`` (one line per
    page the tests photograph) so that a run reports what each page costs to load."""
    weight = dict(page.evaluate(_PAGE_WEIGHT_JS))
    weight["page"] = name
    weight["path"] = page.url.split("://", 1)[-1].split("/", 1)[-1]
    with (SHOTS / "page-weight.jsonl").open("a") as out:
        out.write(json.dumps(weight) + "\n")
    return weight


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots at desktop and phone width (nothing wider than a phone) and the
    page's weight."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page_weight_record(page, name)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)  # charts redraw on resize
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        # nothing is wider than the screen at phone width (no sideways scrolling)
        if label == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, name
    page.set_viewport_size({"width": WIDTHS["desktop"][0], "height": WIDTHS["desktop"][1]})


def console_errors(page: Any) -> list[str]:
    """Console errors and uncaught exceptions of ``page`` from now on."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: seen.append(str(exc)))
    return seen
