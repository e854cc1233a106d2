from django.apps import AppConfig


class CamerasConfig(AppConfig):
    """Sites and cameras of a tenant."""

    name = "cameras"
    default_auto_field = "django.db.models.BigAutoField"
