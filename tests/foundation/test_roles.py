"""The built-in roles name only models and permissions that exist."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, Permission

from tenants.accounts.roles import ROLE_PERMISSIONS
from tenants.constants import Role


def test_every_role_permission_names_an_existing_model_and_permission(
        tenant_a: Any, in_tenant: Any) -> None:
    # given the role table and a provisioned tenant's schema
    with in_tenant(tenant_a):
        for role, spec in ROLE_PERMISSIONS.items():
            for label, actions in spec.items():
                # then each label is an installed model (LookupError otherwise)
                model = apps.get_model(label)
                # and each action is one of its permissions in the tenant's schema
                app_label, model_name = label.split(".")
                codenames = {f"{action}_{model_name}" for action in actions}
                found = set(Permission.objects.filter(
                    content_type__app_label=app_label, content_type__model=model_name,
                    codename__in=codenames).values_list("codename", flat=True))
                assert found == codenames, (role, model._meta.label)


def test_each_role_group_holds_exactly_its_table(tenant_a: Any, in_tenant: Any) -> None:
    # given a provisioned tenant (its role groups were synced at creation)
    with in_tenant(tenant_a):
        for role in Role.ALL:
            # then the group's permissions are exactly the role's table, nothing more or less
            expected = {f"{label.split('.')[0]}.{action}_{label.split('.')[1]}"
                        for label, actions in ROLE_PERMISSIONS[role].items()
                        for action in actions}
            held = {f"{p.content_type.app_label}.{p.codename}"
                    for p in Group.objects.get(name=role).permissions.all()}
            assert held == expected, role
