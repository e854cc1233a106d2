"""Check the audit trails' hash chains: every schema, chosen tenants, or an export file.

    manage.py verify_audit                      # the public schema and every tenant
    manage.py verify_audit --tenant acme        # one tenant ("public" for the platform's)
    manage.py verify_audit --file var/audit-exports/acme-20261205T090000Z.jsonl

Prints one line per trail (and, without --tenant, the last head of every trail dropped with
its tenant); exits with status 1 naming the first bad event if any check fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.chain import ChainReport
from audit.verify import audit_verify_file, audit_verify_schema, retired_heads
from tenants.db import connection


class Command(BaseCommand):
    help = "Verify the audit trails' hash chains (tenants, the public schema, or export files)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", default=[], metavar="SLUG",
                            help="a tenant's slug ('public' for the platform); repeatable")
        parser.add_argument("--file", action="append", default=[], type=Path, metavar="PATH",
                            help="an export written when a tenant was deleted; repeatable")

    def handle(self, *args: Any, **options: Any) -> None:
        from tenants.models import Tenant

        connection.set_schema_to_public()
        failures = 0
        for path in options["file"]:
            try:
                report, note = audit_verify_file(path=path)
            except (OSError, ValueError, KeyError) as exc:
                self.stderr.write(f"FAILED {path}: {exc}")
                failures += 1
                continue
            failures += self._report(str(path), report, note)
        if options["tenant"] or not options["file"]:
            tenants = Tenant.objects.order_by("schema_name")
            if options["tenant"]:
                slugs = set(options["tenant"])
                tenants = tenants.filter(slug__in=slugs)
                missing = slugs - {tenant.slug for tenant in tenants}
                if missing:
                    raise CommandError(f"No tenant with slug {', '.join(sorted(missing))}.")
            schemas = [tenant.schema_name for tenant in tenants]
            if not options["tenant"]:
                # The platform's own trail first, whether or not the public tenant row exists.
                schemas = ["public"] + [schema for schema in schemas if schema != "public"]
            for schema in schemas:
                failures += self._report(schema, audit_verify_schema(schema=schema))
            if not options["tenant"]:
                # Trails of deleted tenants: their exports must end at these heads.
                for schema, seq, digest, dropped_at, by in retired_heads():
                    self.stdout.write(f"dropped {schema} at {dropped_at} by {by}: head seq "
                                      f"{seq} {digest[:16]} (check its export with --file)")
        if failures:
            raise CommandError(f"{failures} audit trail(s) failed verification.")

    def _report(self, name: str, report: ChainReport, note: str = "") -> int:
        if report.ok:
            extra = f"; {note}" if note else ""
            self.stdout.write(f"ok {name}: {report.events} events, head seq {report.last_seq} "
                              f"{report.last_hash[:16]}{extra}")
            return 0
        self.stderr.write(f"FAILED {name}: {report.problem}")
        return 1
