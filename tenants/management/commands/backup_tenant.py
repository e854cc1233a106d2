"""``manage.py backup_tenant SLUG``: one consistent, checksummed archive of one tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.management.commands.create_tenant import format_validation_error
from tenants.management.commands.restore_tenant import TerminalProgress
from tenants.platform.backup import backup_path_default, tenant_backup


class Command(BaseCommand):
    help = ("Back up one tenant (its schema's rows from one snapshot, its domains and plan) to a "
            "checksummed archive that restore_tenant reads.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--output", "-o", type=Path, default=None,
                            help="archive file (default: TENANT_BACKUP_DIR/<slug>-<time>"
                                 ".tenant.tar)")
        parser.add_argument("--no-progress", action="store_true",
                            help="no progress bars (they go to stderr on a terminal)")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        path = options["output"] or backup_path_default(
            slug=slug, directory=Path(settings.TENANT_BACKUP_DIR))
        with TerminalProgress(enabled=not options["no_progress"]) as progress:
            try:
                result = tenant_backup(slug=slug, path=path, progress=progress)
            except ValidationError as exc:
                raise CommandError(format_validation_error(exc)) from exc
        rows = sum(result.rows.values())
        self.stdout.write(self.style.SUCCESS(
            f"Tenant '{slug}' backed up to {result.path}: {rows} rows in {len(result.rows)} "
            f"tables, {result.bytes} bytes, {result.seconds:.1f} s."))
