"""API fixtures: a populated tenant ("world") per role, API clients with sessions or tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api import factories
from tests.conftest import TENANTS


@dataclass
class World:
    """One tenant's objects and users for API tests (all made inside its schema)."""

    tenant: Any
    key: str
    owner: Any
    manager: Any
    viewer: Any  # no object permission
    viewer_granted: Any  # view on the site, change on the camera
    site: Any
    camera: Any
    line: Any
    zone: Any
    event: Any
    other_site: Any  # nobody but Owner/Manager sees it
    other_camera: Any
    empty_site: Any  # no cameras; viewer_granted may view it
    spare_line: Any  # no events: deletable
    spare_zone: Any  # no occupancy: deletable
    owner_token: Any  # an ApiToken of the owner
    owner_token_plaintext: str
    audit_event: Any
    users: dict[str, Any] = field(default_factory=dict)


def world_build(tenant: Any, key: str, in_tenant: Callable[[Any], Any],
                pk_base: int | None = None) -> World:
    """Create the world of a tenant; ``pk_base`` forces primary keys (same-pk isolation)."""
    from django.contrib.auth import get_user_model
    from guardian.shortcuts import assign_perm

    from audit.models import AuditEvent
    from tenants.accounts.tokens import token_create
    from tests.conftest import owner_email

    def pk(offset: int) -> dict[str, int]:
        return {"pk": pk_base + offset} if pk_base is not None else {}

    with in_tenant(tenant):
        owner = get_user_model().objects.get(username=owner_email(key))
        manager = factories.UserFactory(username=f"manager@tenant-{key}.test", role="Manager")
        viewer = factories.UserFactory(username=f"viewer@tenant-{key}.test", role="Viewer")
        granted = factories.UserFactory(username=f"granted@tenant-{key}.test", role="Viewer")
        label = f"tenant-{key}"
        site = factories.SiteFactory(name=f"{label} site", **pk(0))
        # Loopback is refused by the URL policy: a snapshot fails fast, before any connection.
        camera = factories.CameraFactory(site=site, name=f"{label} camera", **pk(0),
                                         stream_url="rtsp://127.0.0.1:9/refused")
        line = factories.LineFactory(camera=camera, name=f"{label} line", **pk(0))
        zone = factories.ZoneFactory(camera=camera, name=f"{label} zone", **pk(0))
        event = factories.CountEventFactory(line=line, **pk(0))
        factories.RollupFactory(line=line, count_in=1, **pk(0))
        factories.OccupancyFactory(zone=zone, **pk(0))
        other_site = factories.SiteFactory(name=f"{label} other site", **pk(1))
        other_camera = factories.CameraFactory(site=other_site, name=f"{label} other camera",
                                               **pk(1))
        empty_site = factories.SiteFactory(name=f"{label} empty site", **pk(2))
        spare_line = factories.LineFactory(camera=camera, name=f"{label} spare line", **pk(1))
        spare_zone = factories.ZoneFactory(camera=camera, name=f"{label} spare zone", **pk(1))
        assign_perm("view_site", granted, site)
        assign_perm("view_site", granted, empty_site)
        assign_perm("change_camera", granted, camera)
        issued = token_create(actor=owner, user=owner, name=f"{label} token")
        audit_event = AuditEvent.objects.get(action="token.create", target_id=issued.token.pk)
    users = {"owner": owner, "manager": manager, "viewer": viewer, "viewer_granted": granted}
    return World(tenant=tenant, key=key, owner=owner, manager=manager, viewer=viewer,
                 viewer_granted=granted, site=site, camera=camera, line=line, zone=zone,
                 event=event, other_site=other_site, other_camera=other_camera,
                 empty_site=empty_site, spare_line=spare_line, spare_zone=spare_zone,
                 owner_token=issued.token, owner_token_plaintext=issued.plaintext,
                 audit_event=audit_event, users=users)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Throttle counters live in the real Redis cache: start every test at zero.

    Only this run's keys are deleted: ``cache.clear()`` is FLUSHDB, which would also wipe the
    counters of test runs going on beside this one (and make their throttling tests flaky).
    """
    from django.conf import settings
    from django.core.cache import cache

    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"*:{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    yield


@pytest.fixture
def world_a(tenant_a: Any, in_tenant: Any) -> World:
    return world_build(tenant_a, "a", in_tenant)


@pytest.fixture
def api_client() -> Callable[..., APIClient]:
    """An APIClient for tenant 'a' or 'b', as ``user`` (session) or with ``token``."""
    from django_tenants.utils import tenant_context

    from tenants.models import Tenant

    def make(key: str, user: Any = None, token: str | None = None) -> APIClient:
        client = APIClient(HTTP_HOST=TENANTS[key]["domain"])
        if user is not None:
            with tenant_context(Tenant.objects.get(slug=TENANTS[key]["slug"])):
                client.force_login(user)
        if token is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def token_for(in_tenant: Any) -> Callable[[Any, Any], str]:
    """A fresh personal token (plaintext) of ``user`` in ``tenant``."""
    from tenants.accounts.tokens import token_create

    def make(tenant: Any, user: Any) -> str:
        with in_tenant(tenant):
            return token_create(actor=user, user=user, name="tests").plaintext

    return make


@pytest.fixture
def state_of(in_tenant: Any) -> Callable[[Any], dict[str, int]]:
    """Row counts of everything the API can write, to prove a denied request changed nothing."""
    from django.contrib.auth import get_user_model
    from guardian.models import GroupObjectPermission, UserObjectPermission

    from audit.models import AuditEvent
    from cameras.models import Camera, Site
    from counting.models import CountingLine, Zone
    from tenants.accounts.models import ApiToken

    def snapshot(tenant: Any) -> dict[str, Any]:
        with in_tenant(tenant):
            return {
                "audit": AuditEvent.objects.count(),
                "sites": list(Site.objects.order_by("pk").values_list("pk", "name", "timezone")),
                "cameras": list(Camera.objects.order_by("pk").values_list("pk", "name", "enabled",
                                                           "stream_url")),
                "lines": list(CountingLine.objects.order_by("pk").values_list("pk", "version")),
                "zones": list(Zone.objects.order_by("pk").values_list("pk", "version")),
                "tokens": list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
                "users": list(get_user_model().objects.order_by("pk")
                          .values_list("pk", "is_active", "last_login")),
                "user_perms": UserObjectPermission.objects.count(),
                "group_perms": GroupObjectPermission.objects.count(),
            }

    return snapshot
