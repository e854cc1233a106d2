"""The platform operations app (public schema)."""

from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """Platform operations on the public schema: provisioning, the platform admin, and the
    platform-wide tables (the model registry, ``models/registry.py``; stream worker nodes,
    ``models/nodes.py``)."""

    name = "tenants.platform"
    label = "platform"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Platform operations"
