from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """The shared app: tenants, domains, plans and provisioning, in the public schema."""

    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"
