"""Audit of password, privilege, group and permission changes made on any path.

Services and the audited admins record one complete event of their own and run inside
``audit.context.audited_explicitly()``; these receivers catch everything else: Django's
password views and the admin's password page, ``createsuperuser`` and ``changepassword``, the
shell, scripts and third-party code. They record:

- ``user.password_change`` when a stored password hash changes (never the hash itself);
- ``user.privileges_change`` when ``is_superuser``, ``is_staff`` or ``is_active`` changes, and
  ``user.create`` when a staff or superuser account is made;
- ``user.groups_change``, ``user.permissions_change``, ``group.members_change`` and
  ``group.permissions_change`` when those many-to-many relations change, in either direction.

Each event is written in the transaction of the change, so a rolled-back change leaves none.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_save, pre_save

from audit.context import current_audit_context, is_audited_explicitly
from audit.services import audit_record

FLAGS = ("is_superuser", "is_staff", "is_active")
_WATCHED = ("password", *FLAGS)


def _on_user_pre_save(sender: Any, instance: Any, raw: bool = False,
                      update_fields: Any = None, **kwargs: Any) -> None:
    if raw or instance.pk is None or is_audited_explicitly():
        return
    if update_fields is not None and not set(update_fields) & set(_WATCHED):
        return  # e.g. last_login at each login: nothing watched can change
    instance._audit_stored = sender.objects.filter(pk=instance.pk).values(*_WATCHED).first()


def _on_user_post_save(sender: Any, instance: Any, created: bool, raw: bool = False,
                       **kwargs: Any) -> None:
    stored = instance.__dict__.pop("_audit_stored", None)
    if raw or is_audited_explicitly():
        return
    if created:
        if instance.is_superuser or instance.is_staff:
            audit_record(action="user.create", target=instance,
                         after={"username": instance.get_username(),
                                **{flag: getattr(instance, flag) for flag in FLAGS}})
        return
    if stored is None:
        return
    if stored["password"] != instance.password:
        by_self = current_audit_context().actor_id == instance.pk
        audit_record(action="user.password_change", target=instance,
                     after={"by": "self" if by_self else "another user or the system",
                            "usable": instance.has_usable_password()})
    before = {flag: stored[flag] for flag in FLAGS}
    after = {flag: getattr(instance, flag) for flag in FLAGS}
    if before != after:
        audit_record(action="user.privileges_change", target=instance, before=before,
                     after=after)


def _permission_label(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _labels(model: Any, pks: Any) -> list[str]:
    objects = model.objects.filter(pk__in=pks)
    if model is Permission:
        return sorted(_permission_label(p) for p in objects.select_related("content_type"))
    if model is Group:
        return sorted(objects.values_list("name", flat=True))
    return sorted(o.get_username() if hasattr(o, "get_username") else str(o) for o in objects)


def _m2m_receiver(forward_action: str, reverse_action: str) -> Any:
    """A receiver of one many-to-many relation: ``forward_action`` when the change is made
    from the relation's owner (user.groups.add), ``reverse_action`` from the other side
    (group.user_set.add)."""

    def receiver(sender: Any, instance: Any, action: str, reverse: bool, model: Any,
                 pk_set: Any, **kwargs: Any) -> None:
        if is_audited_explicitly():
            return
        if action == "pre_clear":
            # The removed objects must be read before they are gone.
            related = getattr(instance, "_audit_clear_related", None) or {}
            manager = _related_manager(sender, instance, reverse)
            related[sender] = list(manager.values_list("pk", flat=True))
            instance._audit_clear_related = related
            return
        if action == "post_clear":
            pks = (getattr(instance, "_audit_clear_related", None) or {}).pop(sender, [])
            kind = "removed"
        elif action in ("post_add", "post_remove"):
            pks = list(pk_set or ())
            kind = "added" if action == "post_add" else "removed"
        else:
            return
        if not pks:
            return
        audit_record(action=reverse_action if reverse else forward_action, target=instance,
                     after={kind: _labels(model, pks)})

    return receiver


def _related_manager(through: Any, instance: Any, reverse: bool) -> Any:
    user_model = get_user_model()
    if through is user_model.groups.through:
        return instance.user_set if reverse else instance.groups
    if through is user_model.user_permissions.through:
        return instance.user_set if reverse else instance.user_permissions
    return instance.group_set if reverse else instance.permissions


def connect() -> None:
    """Connect the receivers (from ``AccountsConfig.ready``)."""
    user_model = get_user_model()
    pre_save.connect(_on_user_pre_save, sender=user_model, dispatch_uid="audit_user_pre_save")
    post_save.connect(_on_user_post_save, sender=user_model,
                      dispatch_uid="audit_user_post_save")
    m2m_changed.connect(_m2m_receiver("user.groups_change", "group.members_change"),
                        sender=user_model.groups.through, dispatch_uid="audit_user_groups",
                        weak=False)
    m2m_changed.connect(_m2m_receiver("user.permissions_change", "permission.users_change"),
                        sender=user_model.user_permissions.through,
                        dispatch_uid="audit_user_permissions", weak=False)
    m2m_changed.connect(_m2m_receiver("group.permissions_change",
                                      "permission.groups_change"),
                        sender=Group.permissions.through, dispatch_uid="audit_group_permissions",
                        weak=False)
