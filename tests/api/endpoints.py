"""Every API endpoint once, with the status each kind of caller must get.

Roles: anonymous, a Viewer without object permissions, a Viewer with view on the site (and the
empty site) and change on the camera, a Manager and the Owner. ``b_ids`` is what tenant A's
Owner gets on A's domain when the path or body names tenant B's objects (by B-only primary
keys): never B's data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROLES = ("anon", "viewer", "viewer_granted", "manager", "owner")
WINDOW = "from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z"


@dataclass(frozen=True)
class Endpoint:
    """One call of the API and its expected answers."""

    name: str
    method: str
    path: Callable[[Any], str]
    expect: tuple[int, int, int, int, int]  # per ROLES
    body: Callable[[Any], dict[str, Any]] | None = None
    b_ids: int | None = None

    def status_for(self, role: str) -> int:
        return self.expect[ROLES.index(role)]


def _line_body(w: Any) -> dict[str, Any]:
    return {"camera": w.camera.pk, "name": "New line", "x1": 0.0, "y1": 0.2, "x2": 1.0,
            "y2": 0.2}


def _zone_body(w: Any) -> dict[str, Any]:
    return {"camera": w.camera.pk, "name": "New zone",
            "points": [[0.2, 0.2], [0.8, 0.2], [0.5, 0.9]]}


def _camera_body(w: Any) -> dict[str, Any]:
    return {"site": w.site.pk, "name": "New camera", "stream_url": "rtsp://10.1.2.3/live"}


def _grant_body(w: Any) -> dict[str, Any]:
    return {"action": "view", "target_type": "camera", "target_id": w.camera.pk,
            "user": w.viewer.pk}


def _revoke_body(w: Any) -> dict[str, Any]:
    return {"action": "view", "target_type": "site", "target_id": w.site.pk,
            "user": w.viewer_granted.pk}


V = "/api/v1"
ENDPOINTS: list[Endpoint] = [
    Endpoint("me", "get", lambda w: f"{V}/me/", (401, 200, 200, 200, 200)),
    # sites
    Endpoint("sites-list", "get", lambda w: f"{V}/sites/", (401, 200, 200, 200, 200)),
    Endpoint("sites-create", "post", lambda w: f"{V}/sites/", (401, 403, 403, 201, 201),
             body=lambda w: {"name": "New site", "timezone": "America/New_York"}),
    Endpoint("sites-detail", "get", lambda w: f"{V}/sites/{w.site.pk}/",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("sites-patch", "patch", lambda w: f"{V}/sites/{w.site.pk}/",
             (401, 404, 403, 200, 200), body=lambda w: {"name": "Renamed"}, b_ids=404),
    Endpoint("sites-put", "put", lambda w: f"{V}/sites/{w.site.pk}/",
             (401, 404, 403, 200, 200), body=lambda w: {"name": "Renamed", "timezone": "UTC"},
             b_ids=404),
    Endpoint("sites-delete", "delete", lambda w: f"{V}/sites/{w.empty_site.pk}/",
             (401, 404, 403, 204, 204), b_ids=404),
    # cameras
    Endpoint("cameras-list", "get", lambda w: f"{V}/cameras/", (401, 200, 200, 200, 200)),
    Endpoint("cameras-create", "post", lambda w: f"{V}/cameras/", (401, 403, 403, 201, 201),
             body=_camera_body, b_ids=400),
    Endpoint("cameras-detail", "get", lambda w: f"{V}/cameras/{w.camera.pk}/",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("cameras-patch", "patch", lambda w: f"{V}/cameras/{w.camera.pk}/",
             (401, 404, 200, 200, 200), body=lambda w: {"name": "Renamed"}, b_ids=404),
    Endpoint("cameras-put", "put", lambda w: f"{V}/cameras/{w.camera.pk}/",
             (401, 404, 200, 200, 200), body=_camera_body, b_ids=404),
    Endpoint("cameras-delete", "delete", lambda w: f"{V}/cameras/{w.other_camera.pk}/",
             (401, 404, 404, 204, 204), b_ids=404),
    Endpoint("cameras-delete-counted", "delete", lambda w: f"{V}/cameras/{w.camera.pk}/",
             (401, 404, 403, 409, 409), b_ids=404),
    Endpoint("cameras-enable", "post", lambda w: f"{V}/cameras/{w.camera.pk}/enable/",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("cameras-disable", "post", lambda w: f"{V}/cameras/{w.camera.pk}/disable/",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("cameras-snapshot", "get", lambda w: f"{V}/cameras/{w.camera.pk}/snapshot/",
             (401, 404, 502, 502, 502), b_ids=404),
    Endpoint("cameras-health", "get", lambda w: f"{V}/cameras/{w.camera.pk}/health/",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("detector-models-list", "get", lambda w: f"{V}/detector-models/",
             (401, 200, 200, 200, 200)),
    # lines
    Endpoint("lines-list", "get", lambda w: f"{V}/lines/", (401, 200, 200, 200, 200)),
    Endpoint("lines-create", "post", lambda w: f"{V}/lines/", (401, 400, 201, 201, 201),
             body=_line_body, b_ids=400),
    Endpoint("lines-detail", "get", lambda w: f"{V}/lines/{w.line.pk}/",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("lines-patch", "patch", lambda w: f"{V}/lines/{w.line.pk}/",
             (401, 404, 200, 200, 200), body=lambda w: {"x2": 0.7}, b_ids=404),
    Endpoint("lines-put", "put", lambda w: f"{V}/lines/{w.line.pk}/",
             (401, 404, 200, 200, 200),
             body=lambda w: {"name": "Door", "x1": 0, "y1": 0, "x2": 1, "y2": 1}, b_ids=404),
    Endpoint("lines-delete", "delete", lambda w: f"{V}/lines/{w.spare_line.pk}/",
             (401, 404, 204, 204, 204), b_ids=404),
    # zones
    Endpoint("zones-list", "get", lambda w: f"{V}/zones/", (401, 200, 200, 200, 200)),
    Endpoint("zones-create", "post", lambda w: f"{V}/zones/", (401, 400, 201, 201, 201),
             body=_zone_body, b_ids=400),
    Endpoint("zones-detail", "get", lambda w: f"{V}/zones/{w.zone.pk}/",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("zones-patch", "patch", lambda w: f"{V}/zones/{w.zone.pk}/",
             (401, 404, 200, 200, 200), body=lambda w: {"capacity": 12}, b_ids=404),
    Endpoint("zones-put", "put", lambda w: f"{V}/zones/{w.zone.pk}/",
             (401, 404, 200, 200, 200),
             body=lambda w: {"name": "Queue", "points": [[0, 0], [1, 0], [1, 1]]}, b_ids=404),
    Endpoint("zones-delete", "delete", lambda w: f"{V}/zones/{w.spare_zone.pk}/",
             (401, 404, 204, 204, 204), b_ids=404),
    # ledger and series
    Endpoint("events-list", "get", lambda w: f"{V}/events/?camera={w.camera.pk}",
             (401, 200, 200, 200, 200)),
    Endpoint("events-detail", "get", lambda w: f"{V}/events/{w.event.pk}/",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("counts-site", "get", lambda w: f"{V}/counts/?site={w.site.pk}&{WINDOW}",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("counts-camera", "get", lambda w: f"{V}/counts/?camera={w.camera.pk}&{WINDOW}",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("counts-line", "get",
             lambda w: f"{V}/counts/?line={w.line.pk}&{WINDOW}&bucket=minute",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("occupancy", "get", lambda w: f"{V}/occupancy/?zone={w.zone.pk}&{WINDOW}",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("counts-sites", "get",
             lambda w: f"{V}/counts/sites/?from=2026-03-01&to=2026-03-02",
             (401, 200, 200, 200, 200)),
    Endpoint("site-occupancy", "get",
             lambda w: f"{V}/site-occupancy/?site={w.site.pk}&{WINDOW}",
             (401, 404, 200, 200, 200), b_ids=404),
    Endpoint("site-occupancy-reset", "post", lambda w: f"{V}/site-occupancy/reset/",
             (401, 404, 403, 201, 201), body=lambda w: {"site": w.site.pk}, b_ids=404),
    # audit
    Endpoint("audit-list", "get", lambda w: f"{V}/audit/", (401, 403, 403, 200, 200)),
    Endpoint("audit-detail", "get", lambda w: f"{V}/audit/{w.audit_event.pk}/",
             (401, 403, 403, 200, 200), b_ids=404),
    # tokens (each user's own)
    Endpoint("tokens-list", "get", lambda w: f"{V}/tokens/", (401, 200, 200, 200, 200)),
    Endpoint("tokens-create", "post", lambda w: f"{V}/tokens/", (401, 201, 201, 201, 201),
             body=lambda w: {"name": "ci", "password": "Correct-Horse-Battery-9"}),
    Endpoint("tokens-detail", "get", lambda w: f"{V}/tokens/{w.owner_token.pk}/",
             (401, 404, 404, 404, 200), b_ids=404),
    Endpoint("tokens-revoke", "delete", lambda w: f"{V}/tokens/{w.owner_token.pk}/",
             (401, 404, 404, 404, 204), b_ids=404),
    # users, roles, object permissions (Owner)
    Endpoint("users-list", "get", lambda w: f"{V}/users/", (401, 403, 403, 403, 200)),
    Endpoint("users-create", "post", lambda w: f"{V}/users/", (401, 403, 403, 403, 201),
             body=lambda w: {"email": "new@example.test", "password": "Another-Long-Pass-77",
                             "role": "Viewer"}),
    Endpoint("users-detail", "get", lambda w: f"{V}/users/{w.viewer.pk}/",
             (401, 403, 403, 403, 200)),
    Endpoint("users-patch", "patch", lambda w: f"{V}/users/{w.viewer.pk}/",
             (401, 403, 403, 403, 200), body=lambda w: {"role": "Manager"}),
    Endpoint("roles", "get", lambda w: f"{V}/roles/", (401, 403, 403, 403, 200)),
    Endpoint("object-permissions-list", "get", lambda w: f"{V}/object-permissions/",
             (401, 403, 403, 403, 200)),
    Endpoint("object-permissions-grant", "post", lambda w: f"{V}/object-permissions/",
             (401, 403, 403, 403, 200), body=_grant_body, b_ids=400),
    Endpoint("object-permissions-revoke", "post", lambda w: f"{V}/object-permissions/revoke/",
             (401, 403, 403, 403, 200), body=_revoke_body),
    # schema and documentation are public (they hold no tenant data)
    Endpoint("schema", "get", lambda w: "/api/schema/", (200, 200, 200, 200, 200)),
    Endpoint("docs", "get", lambda w: "/api/docs/", (200, 200, 200, 200, 200)),
]
