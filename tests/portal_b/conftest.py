"""Fixtures of the management pages: tenant A's people with each role, a site and a camera."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.api import factories
from tests.api.test_snapshot import mjpeg_server  # noqa: F401 (a fixture used here too)
from tests.conftest import owner_email


@dataclass
class People:
    """Tenant A's users and objects for the management pages."""

    owner: Any
    manager: Any
    viewer: Any  # no grant at all
    granted: Any  # view on ``site``, change on ``camera``
    site: Any
    camera: Any
    other_site: Any
    other_camera: Any


@pytest.fixture
def people(tenant_a: Any, in_tenant: Any) -> People:
    from django.contrib.auth import get_user_model
    from guardian.shortcuts import assign_perm

    with in_tenant(tenant_a):
        owner = get_user_model().objects.get(username=owner_email("a"))
        manager = factories.UserFactory(username="pb-manager@a.test", role="Manager")
        viewer = factories.UserFactory(username="pb-viewer@a.test", role="Viewer")
        granted = factories.UserFactory(username="pb-granted@a.test", role="Viewer")
        site = factories.SiteFactory(name="PB site")
        camera = factories.CameraFactory(site=site, name="PB camera")
        other_site = factories.SiteFactory(name="PB other site")
        other_camera = factories.CameraFactory(site=other_site, name="PB other camera")
        assign_perm("view_site", granted, site)
        assign_perm("change_camera", granted, camera)
    return People(owner, manager, viewer, granted, site, camera, other_site, other_camera)


@pytest.fixture
def audit_mark(tenant_a: Any, in_tenant: Any) -> Any:
    """A function returning the audit events written since it was made (logins left out)."""
    from audit.models import AuditEvent

    with in_tenant(tenant_a):
        last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def since() -> list[tuple[str, str, str]]:
        with in_tenant(tenant_a):
            return list(AuditEvent.objects.filter(pk__gt=last)
                        .exclude(action__startswith="auth.").order_by("pk")
                        .values_list("action", "actor_name", "target_id"))

    return since
