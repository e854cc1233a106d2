"""The built-in roles (Owner, Manager, Viewer) as groups with model permissions.

Owner and Manager see every site and camera through model-level permissions; a Viewer sees only
the sites and cameras it was granted per object (django-guardian).
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from audit.context import audited_explicitly
from tenants.constants import Role

_CRUD = ("view", "add", "change", "delete")

# model label -> actions, per role
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.OWNER: {
        "cameras.site": _CRUD,
        "cameras.camera": _CRUD,
        "counting.countingline": _CRUD,
        "counting.zone": _CRUD,
        "counting.countevent": ("view",),
        "audit.auditevent": ("view",),
        "audit.failedlogintally": ("view",),
        "analytics.alertrule": _CRUD,
        "analytics.webhookendpoint": _CRUD,
        "analytics.alert": ("view", "change"),
        "analytics.occupancyreset": ("view", "reset"),
        "analytics.reportschedule": _CRUD,
        "auth.user": _CRUD,
        "auth.group": ("view", "change"),
    },
    Role.MANAGER: {
        "cameras.site": _CRUD,
        "cameras.camera": _CRUD,
        "counting.countingline": _CRUD,
        "counting.zone": _CRUD,
        "counting.countevent": ("view",),
        "audit.auditevent": ("view",),
        "analytics.alertrule": _CRUD,
        "analytics.webhookendpoint": _CRUD,
        "analytics.alert": ("view", "change"),
        "analytics.occupancyreset": ("view", "reset"),
        "analytics.reportschedule": _CRUD,
    },
    Role.VIEWER: {},
}


def _permission_query(spec: dict[str, tuple[str, ...]]) -> Q:
    query = Q(pk__in=[])
    for label, actions in spec.items():
        app_label, model = label.split(".")
        codenames = [f"{action}_{model}" for action in actions]
        query |= Q(content_type__app_label=app_label, content_type__model=model,
                   codename__in=codenames)
    return query


def roles_sync() -> dict[str, Group]:
    """Create the role groups in the current schema and set exactly their model permissions.

    Run by provisioning (audited as ``tenant.create``) and after migrations that add models:
    the role permissions are what this module defines, so the per-permission signal events
    (``group.permissions_change``) would only repeat the code; changes made to a role's
    permissions anywhere else are audited.
    """
    groups = {}
    with audited_explicitly():
        for role in Role.ALL:
            group, _ = Group.objects.get_or_create(name=role)
            permissions = Permission.objects.filter(_permission_query(ROLE_PERMISSIONS[role]))
            group.permissions.set(permissions)
            groups[role] = group
    return groups


def user_role(user: object) -> str | None:
    """The highest built-in role of a user, or None."""
    names = set(getattr(user, "groups").values_list("name", flat=True))  # noqa: B009
    for role in Role.ALL:
        if role in names:
            return role
    return None
