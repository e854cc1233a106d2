"""Granting and revoking per-object permissions on sites and cameras (django-guardian)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.shortcuts import assign_perm, get_group_perms, get_user_perms, remove_perm

from audit.services import audit_record
from cameras.models import Camera, Site

OBJECT_ACTIONS = ("view", "change")


def _codename(action: str, obj: Site | Camera) -> str:
    if action not in OBJECT_ACTIONS:
        raise ValidationError({"permission": [f"'{action}' is not one of {OBJECT_ACTIONS}."]})
    return f"{action}_{obj._meta.model_name}"


def direct_object_perms(grantee: Any, obj: Site | Camera) -> list[str]:
    """The object permissions given to exactly this user or group (not through groups)."""
    perms = get_group_perms(grantee, obj) if isinstance(grantee, Group) else get_user_perms(
        grantee, obj)
    return sorted(str(p) for p in perms)


def _grantee_label(grantee: Any) -> dict[str, Any]:
    if isinstance(grantee, Group):
        return {"group": grantee.name, "group_id": grantee.pk}
    return {"user": grantee.get_username(), "user_id": grantee.pk}


@transaction.atomic
def object_permission_grant(*, actor: Any, grantee: Any, action: str, obj: Site | Camera) -> bool:
    """Give a user or group ``action`` (view or change) on one site or camera.

    Returns False (and records nothing) when the grantee already had it.
    """
    codename = _codename(action, obj)
    before = direct_object_perms(grantee, obj)
    if codename in before:
        return False
    assign_perm(codename, grantee, obj)
    audit_record(action="permission.grant", target=obj,
                 before={**_grantee_label(grantee), "perms": before},
                 after={**_grantee_label(grantee), "perms": sorted({*before, codename})},
                 actor=actor)
    return True


@transaction.atomic
def object_permission_revoke(*, actor: Any, grantee: Any, action: str, obj: Site | Camera) -> bool:
    """Take ``action`` on one site or camera away from a user or group."""
    codename = _codename(action, obj)
    before = direct_object_perms(grantee, obj)
    if codename not in before:
        return False
    remove_perm(codename, grantee, obj)
    audit_record(action="permission.revoke", target=obj,
                 before={**_grantee_label(grantee), "perms": before},
                 after={**_grantee_label(grantee), "perms": [p for p in before if p != codename]},
                 actor=actor)
    return True
