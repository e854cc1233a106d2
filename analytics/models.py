"""Models of the analytics app: the alerting models live in ``analytics/alerts/models.py``."""

from analytics.alerts.models import (  # noqa: F401 - Django finds the app's models here
    Alert,
    AlertCondition,
    AlertRule,
    Delivery,
    DeliveryAttempt,
    Notification,
    WebhookEndpoint,
)
