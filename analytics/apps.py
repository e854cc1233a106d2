from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Rollups, occupancy series, reports and alerts."""

    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"
