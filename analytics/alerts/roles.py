"""Alert permissions of the built-in roles in schemas that existed before alerts did.

The roles' model permissions are listed in ``tenants/accounts/roles.py``; tenants provisioned
before the alert models existed get them when their schema is migrated (post_migrate, after
Django created the new models' permissions).
"""

from __future__ import annotations

from typing import Any

from tenants.db import connection


def roles_refresh(sender: Any, **kwargs: Any) -> None:
    from django.contrib.auth.models import Group

    from tenants.accounts.roles import roles_sync

    if connection.schema_name == "public" or not Group.objects.exists():
        return  # the public schema, or a schema whose roles provisioning has not made yet
    roles_sync()
