from django.apps import AppConfig


class CountingConfig(AppConfig):
    """Counting lines, zones, the event ledger and the stream runner (Django side)."""

    name = "counting"
    default_auto_field = "django.db.models.BigAutoField"
