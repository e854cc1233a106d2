from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Per-tenant accounts: personal API tokens of the tenant's users."""

    name = "tenants.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
