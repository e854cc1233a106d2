from django.apps import AppConfig


class TenantsConfig(AppConfig):
    """The shared core: tenants, domains and plans in the public schema (provisioning and the
    platform admin are in tenants.platform, the tenant's people in tenants.accounts)."""

    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import security_checks  # noqa: F401  (registers the deploy checks)
