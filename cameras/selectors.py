"""Reads of sites and cameras that already apply the user's permissions.

A user sees a site or camera when holding the model-level view permission (Owner, Manager),
or the object permission on it (guardian); a view permission on a site covers its cameras.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from cameras.models import Camera, Site


def ai_models_choosable() -> QuerySet[Any]:
    """The registry's detector models a camera may be given as its own: the active ones."""
    from tenants.platform.models import AiModel, ModelStatus

    return AiModel.objects.filter(status=ModelStatus.ACTIVE).order_by("name", "version")


def ai_model_get(model_id: int) -> Any:
    """The registry's detector model ``model_id`` whatever its status (None: no such model);
    the camera service says whether it may be chosen."""
    from tenants.platform.models import AiModel

    return AiModel.objects.filter(pk=model_id).first()


def site_list_visible_to(*, user: Any, perm: str = "view") -> QuerySet[Site]:
    if not user or not user.is_authenticated or not user.is_active:
        return Site.objects.none()
    return get_objects_for_user(user, f"cameras.{perm}_site", klass=Site,
                                accept_global_perms=True).order_by("name", "id")


def camera_list_visible_to(*, user: Any, perm: str = "view") -> QuerySet[Camera]:
    if not user or not user.is_authenticated or not user.is_active:
        return Camera.objects.none()
    if user.has_perm(f"cameras.{perm}_camera"):
        return Camera.objects.select_related("site").order_by("site_id", "name", "id")
    direct = get_objects_for_user(user, f"cameras.{perm}_camera", klass=Camera,
                                  accept_global_perms=False)
    via_site = site_list_visible_to(user=user, perm=perm)
    return (
        Camera.objects.select_related("site")
        .filter(Q(pk__in=direct.values("pk")) | Q(site__in=via_site.values("pk")))
        .order_by("site_id", "name", "id")
    )


def camera_get_visible_to(*, user: Any, camera_id: int, perm: str = "view") -> Camera | None:
    return camera_list_visible_to(user=user, perm=perm).filter(pk=camera_id).first()


def site_get_visible_to(*, user: Any, site_id: int, perm: str = "view") -> Site | None:
    return site_list_visible_to(user=user, perm=perm).filter(pk=site_id).first()


def user_can(*, user: Any, perm: str, obj: Camera | Site) -> bool:
    """Object check: ``perm`` is view/change/delete; a site permission covers its cameras."""
    if isinstance(obj, Camera):
        return camera_get_visible_to(user=user, camera_id=obj.pk, perm=perm) is not None
    return site_get_visible_to(user=user, site_id=obj.pk, perm=perm) is not None
