"""Re-encrypt every stored camera secret with the first of ``FIELD_ENCRYPTION_KEYS``.

    manage.py rotate_camera_keys                 # every tenant
    manage.py rotate_camera_keys --tenant acme   # one tenant (repeatable)
    manage.py rotate_camera_keys --check         # only report; exit 1 while any is not current

Rotating a key: put the new key first in ``FIELD_ENCRYPTION_KEYS`` and keep the old one after
it, deploy, run this command, and remove the old key only once ``--check`` reports every secret
current. A secret no listed key can open is reported by camera (and left as it is): its camera
shows an error status until its password is entered again or the old key is put back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_tenants.utils import tenant_context

from audit.services import audit_record
from cameras.crypto import (
    SecretUndecryptable,
    decrypt_secret,
    secret_is_current,
    secret_rotate,
)
from cameras.models import Camera
from tenants.db import connection

# Every encrypted column of a camera ends with this (password, query-string credentials...).
ENCRYPTED_SUFFIX = "_encrypted"


def encrypted_fields() -> list[str]:
    """The camera's encrypted columns."""
    return [f.attname for f in Camera._meta.concrete_fields if f.name.endswith(ENCRYPTED_SUFFIX)]


@dataclass
class RotationReport:
    """What rotating one tenant's camera secrets did."""

    rotated: list[int] = field(default_factory=list)
    current: int = 0
    undecryptable: list[tuple[int, str, str]] = field(default_factory=list)


def camera_secrets_rotate(*, check_only: bool = False) -> RotationReport:
    """Re-encrypt the current schema's camera secrets with the primary key, one camera per
    transaction (a row lock keeps a concurrent edit from being overwritten); audited once."""
    report = RotationReport()
    columns = encrypted_fields()
    for camera_id in Camera.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            camera = Camera.objects.select_for_update().filter(pk=camera_id).first()
            if camera is None:  # deleted meanwhile
                continue
            changes: dict[str, str] = {}
            bad = [c for c in columns if not _readable(getattr(camera, c))]
            if bad:
                report.undecryptable.append((camera.pk, camera.name, ", ".join(bad)))
                continue
            for column in columns:
                token = getattr(camera, column)
                if not secret_is_current(token):
                    changes[column] = token if check_only else secret_rotate(token)
            if not changes:
                report.current += 1
                continue
            report.rotated.append(camera.pk)
            if not check_only:
                # update(): no updated_at and no signals, the values the user sees are unchanged.
                Camera.objects.filter(pk=camera.pk).update(**changes)
    if report.rotated and not check_only:
        audit_record(action="camera.keys_rotate", target_type="cameras.camera",
                     after={"cameras": report.rotated, "count": len(report.rotated)})
    return report


def _readable(token: str) -> bool:
    try:
        decrypt_secret(token)
    except SecretUndecryptable:
        return False
    return True


class Command(BaseCommand):
    help = "Re-encrypt camera secrets with the first FIELD_ENCRYPTION_KEYS key (key rotation)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=[], metavar="SLUG",
                            help="a tenant's slug; repeatable (default: every tenant)")
        parser.add_argument("--check", action="store_true",
                            help="change nothing; exit 1 while a secret is not on the first key")

    def handle(self, *args: Any, **options: Any) -> None:
        from tenants.models import Tenant

        connection.set_schema_to_public()
        tenants = Tenant.objects.exclude(schema_name="public").order_by("schema_name")
        if options["tenant"]:
            slugs = set(options["tenant"])
            tenants = tenants.filter(slug__in=slugs)
            missing = slugs - {tenant.slug for tenant in tenants}
            if missing:
                raise CommandError(f"No tenant with slug {', '.join(sorted(missing))}.")
        check = options["check"]
        pending = broken = 0
        for tenant in tenants:
            with tenant_context(tenant):
                report = camera_secrets_rotate(check_only=check)
            verb = "to re-encrypt" if check else "re-encrypted"
            self.stdout.write(f"{tenant.slug}: {len(report.rotated)} {verb}, {report.current} "
                              f"current, {len(report.undecryptable)} undecryptable")
            for camera_id, name, columns in report.undecryptable:
                self.stderr.write(
                    f"  camera {camera_id} '{name}' ({columns}): no key in FIELD_ENCRYPTION_KEYS "
                    "decrypts it; put the removed key back or enter its password again")
            pending += len(report.rotated) if check else 0
            broken += len(report.undecryptable)
        if broken:
            raise CommandError(f"{broken} camera(s) hold secrets no configured key decrypts.")
        if pending:
            raise CommandError(f"{pending} camera(s) are not yet on the first key: run "
                               "`manage.py rotate_camera_keys` before removing an old key.")
