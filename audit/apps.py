from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only audit trail; connects the login/logout signal receivers."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import signals  # noqa: F401
