from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Rollup series, occupancy, reports and alerts."""

    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from analytics.alerts import receivers
        from analytics.alerts.roles import roles_refresh

        receivers.connect()
        # Celery's autodiscovery looks for analytics.tasks; the alert tasks live deeper.
        import analytics.alerts.tasks  # noqa: F401
        import analytics.reports.tasks  # noqa: F401

        post_migrate.connect(roles_refresh, sender=self, dispatch_uid="alerts.roles_refresh")
