"""A tenant's privacy setting: whether people are blurred in the camera pictures it is shown."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from audit.services import audit_record
from tenants.accounts.roles import user_role
from tenants.constants import Role
from tenants.models import Tenant


def tenant_privacy_can_change(*, user: Any) -> bool:
    """Only an Owner decides whether its organisation's people are blurred."""
    return bool(user and user.is_authenticated and user.is_active
                and user_role(user) == Role.OWNER)


@transaction.atomic
def tenant_privacy_set(*, actor: Any, tenant: Tenant, blur: bool) -> Tenant:
    """Turn blurring of people in snapshots on or off (Owners only; audited).

    Pictures kept before the change stay as they were stored (blurred ones stay blurred); the
    next picture follows the new setting.
    """
    if not tenant_privacy_can_change(user=actor):
        raise PermissionDenied("Only an Owner can change the privacy setting.")
    current = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if current.privacy_blur == blur:
        return current
    before = {"privacy_blur": current.privacy_blur}
    current.privacy_blur = blur
    current.save(update_fields=["privacy_blur"])
    tenant.privacy_blur = blur
    audit_record(action="tenant.privacy_update", target=current, before=before,
                 after={"privacy_blur": blur}, actor=actor)
    return current
