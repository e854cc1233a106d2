"""Admin autodiscovery finds the analytics app's admin here; the alert admin lives deeper."""

import analytics.alerts.admin  # noqa: F401
