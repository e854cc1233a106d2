"""``manage.py delete_tenant``: drop a tenant's schema after confirmation."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.management.commands.create_tenant import format_validation_error
from tenants.models import Tenant
from tenants.platform.services import tenant_delete


class Command(BaseCommand):
    help = "Delete a tenant: drops its schema (all its data), domains and cache keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--yes", action="store_true",
                            help="do not ask; required when there is no terminal")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug '{slug}'. List them in the platform admin.")
        if not options["yes"]:
            if not self.stdin_is_interactive():
                raise CommandError("Refusing to delete without confirmation: pass --yes.")
            answer = input(f"Type the slug '{slug}' to delete tenant {tenant.name} and ALL its "
                           "data: ")
            if answer.strip() != slug:
                raise CommandError("Confirmation did not match; nothing was deleted.")
        try:
            tenant_delete(slug=slug)
        except ValidationError as exc:
            raise CommandError(format_validation_error(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Tenant '{slug}' deleted."))

    @staticmethod
    def stdin_is_interactive() -> bool:
        import sys

        return sys.stdin is not None and sys.stdin.isatty()
