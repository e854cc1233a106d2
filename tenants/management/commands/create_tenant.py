"""``manage.py create_tenant``: provision a tenant (schema, domain, first owner) in one step."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.platform.services import tenant_create


def format_validation_error(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Create a tenant with its schema, its domain and its first owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="lowercase; becomes the schema name")
        parser.add_argument("--domain", required=True, help="e.g. acme.localhost")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--plan", default=None, help="plan code (optional)")
        parser.add_argument("--camera-quota", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Creating tenant '{options['slug']}' (schema, migrations, owner)...")
        try:
            result = tenant_create(
                name=options["name"], slug=options["slug"], domain=options["domain"],
                owner_email=options["owner_email"], owner_password=options["owner_password"],
                plan_code=options["plan"], camera_quota=options["camera_quota"],
            )
        except ValidationError as exc:
            raise CommandError(f"Tenant not created: {format_validation_error(exc)}") from exc
        self.stdout.write(self.style.SUCCESS(
            f"Tenant '{result.tenant.slug}' ready at http://{result.domain.domain}/ "
            f"(owner {options['owner_email']})."
        ))
