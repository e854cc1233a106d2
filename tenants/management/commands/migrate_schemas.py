"""``migrate_schemas`` with the migration timeouts instead of the web's statement timeout."""

from __future__ import annotations

from typing import Any

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants.db_timeouts import migration_timeouts


class Command(MigrateSchemasCommand):
    """django-tenants' migrate_schemas, run under ``DATABASE_MIGRATE_TIMEOUTS_MS``.

    Found before django-tenants' own command because ``tenants`` precedes ``django_tenants`` in
    INSTALLED_APPS; ``migrate`` is the same command (django-tenants aliases it too), and tenant
    provisioning calls it, so no migration is cut short by DATABASE_STATEMENT_TIMEOUT_S.
    """

    def handle(self, *args: Any, **options: Any) -> None:
        with migration_timeouts():
            super().handle(*args, **options)
