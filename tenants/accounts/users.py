"""Users of a tenant (in its schema) and their roles: services with one audit event each."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from audit.context import audited_explicitly
from audit.services import audit_record
from tenants.accounts.roles import user_role
from tenants.constants import Role

_UNSET: Any = object()


def user_values(user: Any) -> dict[str, Any]:
    """A user as the audit trail keeps it: who, the role, and every privilege it holds."""
    values = {"username": user.get_username(), "email": user.email, "is_active": user.is_active,
              "role": user_role(user), "is_staff": user.is_staff,
              "is_superuser": user.is_superuser}
    if user.pk is not None:
        values["groups"] = sorted(user.groups.values_list("name", flat=True))
        values["permissions"] = sorted(
            f"{app}.{codename}" for app, codename in user.user_permissions.values_list(
                "content_type__app_label", "codename"))
    return values


def _validate_role(role: str) -> Group:
    if role not in Role.ALL:
        raise ValidationError(
            {"role": [f"'{role}' is not a role; use one of {', '.join(Role.ALL)}."]}
        )
    group, _ = Group.objects.get_or_create(name=role)
    return group


@transaction.atomic
def user_create(*, actor: Any, email: str, password: str, role: str = Role.VIEWER,
                first_name: str = "", last_name: str = "") -> Any:
    """Add a user to the tenant with one role. Passwords must pass the validators."""
    user_model = get_user_model()
    email = (email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [f"'{email}' is not a valid e-mail address."]
    if not errors and user_model.objects.filter(username=email).exists():
        errors["email"] = ["A user with this e-mail already exists."]
    try:
        validate_password(password, user=user_model(username=email, email=email))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    try:
        group = _validate_role(role)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    with audited_explicitly():  # the one user.create event below covers the row and its role
        user = user_model.objects.create_user(username=email, email=email, password=password,
                                              first_name=first_name, last_name=last_name,
                                              is_staff=role in (Role.OWNER, Role.MANAGER))
        user.groups.add(group)
    audit_record(action="user.create", target=user, after=user_values(user), actor=actor)
    return user


@transaction.atomic
def user_update(*, actor: Any, user: Any, role: str = _UNSET, is_active: bool = _UNSET,
                first_name: str = _UNSET, last_name: str = _UNSET) -> Any:
    """Change a user's role, activity or name. The last active Owner cannot be demoted."""
    before = user_values(user)
    if role is not _UNSET:
        group = _validate_role(role)
    if (role is not _UNSET and role != Role.OWNER) or is_active is False:
        if before["role"] == Role.OWNER and not get_user_model().objects.filter(
            groups__name=Role.OWNER, is_active=True).exclude(pk=user.pk).exists():
            raise ValidationError({"role": ["This is the last active Owner: make another user "
                                            "Owner first."]})
    with audited_explicitly():  # the one user.update event below covers every change
        if role is not _UNSET:
            user.groups.remove(*Group.objects.filter(name__in=Role.ALL))
            user.groups.add(group)
            user.is_staff = role in (Role.OWNER, Role.MANAGER)
        if is_active is not _UNSET:
            user.is_active = bool(is_active)
        if first_name is not _UNSET:
            user.first_name = first_name
        if last_name is not _UNSET:
            user.last_name = last_name
        user.save()
    after = user_values(user)
    if after != before:
        audit_record(action="user.update", target=user, before=before, after=after, actor=actor)
    return user


@transaction.atomic
def user_password_change(*, actor: Any, user: Any, new_password: str) -> Any:
    """Set a new password for ``user`` (the caller checked the current one, or is allowed to
    set it); the validators apply. One ``user.password_change`` event, never the hash."""
    try:
        validate_password(new_password, user=user)
    except ValidationError as exc:
        raise ValidationError({"new_password": list(exc.messages)}) from exc
    if user.check_password(new_password):
        raise ValidationError({"new_password": ["The new password is the same as the current "
                                                "one: choose another."]})
    with audited_explicitly():  # the event below is the record of this change
        user.set_password(new_password)
        user.save(update_fields=["password"])
    by_self = getattr(actor, "pk", None) == user.pk
    audit_record(action="user.password_change", target=user, actor=actor,
                 after={"by": "self" if by_self else "another user or the system",
                        "usable": True})
    return user
