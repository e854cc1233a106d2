from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The tenant's people: users, roles and personal API tokens (tables keep the label)."""

    name = "tenants.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants.accounts import signals

        signals.connect()
