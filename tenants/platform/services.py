"""Tenant provisioning and deletion: one step each, nothing left half made on failure."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django_tenants.utils import schema_context, schema_exists, tenant_context

from audit.context import audited_explicitly
from audit.export import audit_export_schema
from audit.services import audit_record
from tenants.accounts.roles import roles_sync
from tenants.constants import DOMAIN_PATTERN, RESERVED_SLUGS, SLUG_PATTERN, Role
from tenants.db import connection
from tenants.models import Domain, Plan, Tenant
from tenants.partitions import partitions_forget, partman_installed
from tenants.redis_keys import tenant_redis_keys_delete
from tenants.signals import tenant_deleting, tenant_suspended

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionedTenant:
    """What ``tenant_create`` made: the tenant, its primary domain and its first owner's id."""

    tenant: Tenant
    domain: Domain
    owner_id: int


def tenant_validate_new(*, name: str, slug: str, domain: str, owner_email: str,
                         owner_password: str) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors.setdefault("name", []).append("The name must not be empty.")
    if not SLUG_PATTERN.match(slug):
        errors.setdefault("slug", []).append(
            f"'{slug}' is not a valid slug: use 2-48 lowercase letters, digits or underscores, "
            "starting with a letter (it becomes the PostgreSQL schema name)."
        )
    elif slug in RESERVED_SLUGS or slug.startswith("pg_"):
        errors.setdefault("slug", []).append(f"'{slug}' is reserved; choose another slug.")
    elif Tenant.objects.filter(slug=slug).exists() or Tenant.objects.filter(
        schema_name=slug
    ).exists() or schema_exists(slug):
        errors.setdefault("slug", []).append(f"The slug '{slug}' is already taken.")
    if not DOMAIN_PATTERN.match(domain):
        errors.setdefault("domain", []).append(
            f"'{domain}' is not a valid host name (lowercase, like acme.example.com)."
        )
    elif Domain.objects.filter(domain=domain).exists():
        errors.setdefault("domain", []).append(f"The domain '{domain}' is already taken.")
    try:
        validate_email(owner_email)
    except ValidationError:
        errors.setdefault("owner_email", []).append(f"'{owner_email}' is not a valid e-mail.")
    try:
        user_model = get_user_model()
        validate_password(owner_password, user=user_model(username=owner_email, email=owner_email))
    except ValidationError as exc:
        errors.setdefault("owner_password", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)


def tenant_create(*, name: str, slug: str, domain: str, owner_email: str, owner_password: str,
                  plan_code: str | None = None, camera_quota: int | None = None,
                  ) -> ProvisionedTenant:
    """Create a tenant: its schema (migrated), its domain, the role groups and the first owner.

    Everything is validated before the schema is made; if a later step fails the schema and
    rows made so far are removed again, so a failure leaves nothing behind.
    """
    slug = slug.strip()
    domain = domain.strip().lower()
    owner_email = owner_email.strip().lower()
    if connection.schema_name != "public":
        raise RuntimeError("tenant_create must run in the public schema.")
    tenant_validate_new(name=name, slug=slug, domain=domain, owner_email=owner_email,
                         owner_password=owner_password)
    plan = Plan.objects.filter(code=plan_code).first() if plan_code else None
    if plan_code and plan is None:
        raise ValidationError({"plan": [f"Unknown plan '{plan_code}'."]})
    quota = camera_quota if camera_quota is not None else (plan.camera_quota if plan else 10)

    tenant = Tenant(schema_name=slug, slug=slug, name=name.strip(), plan=plan, camera_quota=quota)
    try:
        tenant.save(verbosity=0)  # creates and migrates the schema
        with transaction.atomic():
            primary = Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
        with tenant_context(tenant):
            owner_id = _create_owner(owner_email=owner_email, owner_password=owner_password)
    except BaseException:
        logger.exception("Provisioning of tenant %s failed; removing what was made", slug)
        _remove_tenant(tenant)
        raise
    audit_record(action="tenant.create", target=tenant,
                 after={"name": tenant.name, "slug": slug, "domain": domain,
                        "owner_email": owner_email, "camera_quota": quota})
    logger.info("Provisioned tenant %s on %s", slug, domain)
    return ProvisionedTenant(tenant=tenant, domain=primary, owner_id=owner_id)


def _create_owner(*, owner_email: str, owner_password: str) -> int:
    with transaction.atomic(), audited_explicitly():
        groups = roles_sync()
        user_model = get_user_model()
        owner = user_model.objects.create_user(
            username=owner_email, email=owner_email, password=owner_password, is_staff=True
        )
        owner.groups.add(groups[Role.OWNER])
        audit_record(action="user.create", target=owner,
                     after={"username": owner.username, "roles": [Role.OWNER]})
    return int(owner.pk)


def _remove_tenant(tenant: Tenant) -> None:
    if connection.schema_name != "public":
        connection.set_schema_to_public()
    if connection.in_atomic_block:
        # Deferred foreign-key checks of rows made in this transaction must run before their
        # tables can be dropped.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    if tenant.pk:
        Domain.objects.filter(tenant_id=tenant.pk).delete()
        tenant.delete(force_drop=True)
    elif schema_exists(tenant.schema_name):
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
    if partman_installed():  # pg_partman's configuration of the dropped partitioned tables
        partitions_forget(tenant.schema_name)
    tenant_redis_keys_delete(schema_name=tenant.schema_name)


def tenant_suspend(*, tenant: Tenant, reason: str = "") -> bool:
    """Suspend a tenant: its domains answer "suspended", its streams stop within seconds (the
    runners check the tenant; ``tenant_suspended`` asks them at once) and the supervisor starts
    none until it is reactivated. Its data stays. Returns False if it was already suspended."""
    if tenant.schema_name == "public":
        raise ValidationError({"tenant": ["The public tenant cannot be suspended."]})
    with transaction.atomic():
        updated = Tenant.objects.filter(pk=tenant.pk, is_active=True).update(is_active=False)
        tenant.is_active = False
        if not updated:
            return False
        audit_record(action="tenant.suspend", target=tenant, before={"is_active": True},
                     after={"is_active": False, "reason": reason})
        transaction.on_commit(lambda: tenant_suspended.send(sender=Tenant, tenant=tenant))
    logger.info("Suspended tenant %s%s", tenant.slug, f" ({reason})" if reason else "")
    return True


def tenant_reactivate(*, tenant: Tenant) -> bool:
    """Reactivate a suspended tenant: its domains answer again and the supervisor restarts its
    enabled cameras at its next tick. Returns False if it was active already."""
    with transaction.atomic():
        updated = Tenant.objects.filter(pk=tenant.pk, is_active=False).update(is_active=True)
        tenant.is_active = True
        if not updated:
            return False
        audit_record(action="tenant.reactivate", target=tenant, before={"is_active": False},
                     after={"is_active": True})
    logger.info("Reactivated tenant %s", tenant.slug)
    return True


def tenant_delete(*, slug: str) -> None:
    """Drop a tenant: its schema with every row in it, its domains and its cache and Redis keys.

    The tenant is first made inactive (no new request, no stream restarted) and its running
    streams are stopped (``tenant_deleting``: they flush and release their leases, waited for
    up to ``TENANT_DELETE_STOP_WAIT_S``), so nothing writes into a schema being dropped.
    """
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise ValidationError({"slug": [f"No tenant with slug '{slug}'."]})
    if tenant.schema_name == "public":
        raise ValidationError({"slug": ["The public schema cannot be deleted."]})
    tenant_pk = tenant.pk  # Model.delete() sets pk to None: the audit event needs it
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    tenant.is_active = False
    tenant_deleting.send(sender=Tenant, tenant=tenant,
                         wait_s=float(getattr(settings, "TENANT_DELETE_STOP_WAIT_S", 12.0)))
    # The audit trail outlives the schema: exported (and verifiable) before the drop.
    audit_export_schema(schema=tenant.schema_name)
    with schema_context("public"):
        _remove_tenant(tenant)
        audit_record(action="tenant.delete", target_type="tenants.tenant", target_id=str(tenant_pk),
                     before={"name": tenant.name, "slug": slug})
    logger.info("Deleted tenant %s", slug)


def public_tenant_ensure(*, domain: str) -> Tenant:
    """Create the public tenant row and its domain if missing (idempotent)."""
    tenant, _ = Tenant.objects.get_or_create(
        schema_name="public", defaults={"name": "Platform", "slug": "public"}
    )
    Domain.objects.get_or_create(domain=domain, defaults={"tenant": tenant, "is_primary": True})
    return tenant
