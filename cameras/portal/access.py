"""Which sites and cameras a user may see or change: the grants page of a user (Owner only).

Owner and Manager see everything through their role; this page matters for Viewers, who see
only what is granted here. Grants and revokes go through the audited permission services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cameras.models import Camera, Site
from cameras.permissions import (
    OBJECT_ACTIONS,
    direct_object_perms,
    object_permission_grant,
    object_permission_revoke,
)
from tenants.accounts.roles import user_role
from tenants.constants import Role


def _key(obj: Site | Camera, action: str) -> str:
    return f"{obj._meta.model_name}-{obj.pk}-{action}"


@login_required
def user_access(request: HttpRequest, user_id: int) -> HttpResponse:
    """Tick the sites and cameras a user may view or change; a site covers its cameras."""
    if not request.user.has_perm("auth.change_user"):
        raise PermissionDenied("Only an Owner grants access to sites and cameras.")
    grantee = get_user_model().objects.filter(pk=user_id).first()
    if grantee is None:
        raise Http404("No such user.")
    sites = list(Site.objects.prefetch_related("cameras").order_by("name", "id"))
    objects: list[Site | Camera] = []
    for site in sites:
        objects.append(site)
        objects.extend(site.cameras.all())
    current = {_key(obj, action) for obj in objects
               for action in OBJECT_ACTIONS
               if f"{action}_{obj._meta.model_name}" in direct_object_perms(grantee, obj)}
    if request.method == "POST":
        wanted = set(request.POST.getlist("grant"))
        changed = 0
        for obj in objects:
            for action in OBJECT_ACTIONS:
                key = _key(obj, action)
                if key in wanted and key not in current:
                    changed += object_permission_grant(actor=request.user, grantee=grantee,
                                                       action=action, obj=obj)
                elif key in current and key not in wanted:
                    changed += object_permission_revoke(actor=request.user, grantee=grantee,
                                                        action=action, obj=obj)
        messages.success(request, f"Access of {grantee.get_username()} saved "
                                  f"({changed} change{'s' if changed != 1 else ''}).")
        return redirect("manage-user-access", user_id=grantee.pk)
    rows: list[dict[str, Any]] = []
    for site in sites:
        rows.append({"obj": site, "kind": "site", "cells": [
            (action, _key(site, action), _key(site, action) in current)
            for action in OBJECT_ACTIONS]})
        for camera in site.cameras.all():
            rows.append({"obj": camera, "kind": "camera", "cells": [
                (action, _key(camera, action), _key(camera, action) in current)
                for action in OBJECT_ACTIONS]})
    role = user_role(grantee)
    return render(request, "cameras/manage/user_access.html", {
        "grantee": grantee, "rows": rows, "role": role,
        "role_sees_all": role in (Role.OWNER, Role.MANAGER)})
