"""``manage.py restore_tenant ARCHIVE --slug NEW``: an archive of backup_tenant as a tenant."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from tenants.management.commands.create_tenant import format_validation_error
from tenants.platform.backup import tenant_restore


class TerminalProgress:
    """Progress bars (tqdm, on stderr) per table while backing up or restoring, only when
    stderr is a terminal; a callable for ``tenant_backup``/``tenant_restore``."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: Any = None
        self.table = ""

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __call__(self, stage: str, table: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if table != self.table:
            self._close()
            self.table = table
            self.bar = tqdm(total=total, desc=f"{stage} {table}", unit=" rows",
                            unit_scale=True, leave=False, file=sys.stderr)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)


class Command(BaseCommand):
    help = ("Restore a tenant archive (backup_tenant) as a new tenant, migrated to this "
            "version; checks every checksum first and changes nothing if one fails.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path)
        parser.add_argument("--slug", required=True,
                            help="the new tenant's slug (its own once the original is deleted)")
        parser.add_argument("--domain", default=None,
                            help="the new tenant's host name (default: the archive's domains, "
                                 "which must be free)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        with TerminalProgress(enabled=not options["no_progress"]) as progress:
            try:
                result = tenant_restore(path=options["archive"], slug=options["slug"],
                                        domain=options["domain"], progress=progress)
            except ValidationError as exc:
                raise CommandError(format_validation_error(exc)) from exc
        rows = sum(result.rows.values())
        migrated = (f"; then migrated {len(result.migrated)} migration(s)"
                    if result.migrated else "")
        self.stdout.write(self.style.SUCCESS(
            f"Restored {options['archive']} as tenant '{result.tenant.slug}': {rows} rows in "
            f"{len(result.rows)} tables, audit head seq {result.audit_head[0]}{migrated}, "
            f"{result.seconds:.1f} s."))
