# Django's admin autodiscovery imports "<app>.admin" of each installed app; the platform admin's
# registrations live in tenants.platform (above the shared core), so this app module loads them.
import tenants.platform.admin  # noqa: F401
