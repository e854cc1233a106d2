"""``migrate`` is ``migrate_schemas`` (as in django-tenants), with the migration timeouts."""

from tenants.management.commands.migrate_schemas import Command

__all__ = ["Command"]
