from django.apps import AppConfig


class CountingConfig(AppConfig):
    """Counting lines, zones, the event ledger and the stream runner (Django side)."""

    name = "counting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cameras.privacy import snapshot_filter_register
        from counting import (
            checks,  # noqa: F401  (registers the start-up checks)
            day_rollups_sync,  # noqa: F401  (day rollups follow their site's timezone)
            tenant_streams,  # noqa: F401  (stops streams of suspended tenants)
        )
        from counting.live import tenant_watch  # noqa: F401  (closes their live sockets)
        from counting.metrics import camera_metrics, queue_metrics
        from counting.privacy import snapshot_filter
        from tenants.metrics import scrape_collector_register

        scrape_collector_register(camera_metrics)
        scrape_collector_register(queue_metrics)
        # Every picture the cameras app shows (API snapshot, test connection) is blurred here.
        snapshot_filter_register(snapshot_filter)
