"""The Prometheus endpoint: process metrics (django-prometheus) plus collectors run per scrape.

Served by :class:`MetricsEndpointMiddleware` at ``settings.METRICS_PATH`` on any host, before a
tenant is looked up (a scraper addresses the node, not a tenant's domain). It is not public:
every request needs ``Authorization: Bearer <settings.METRICS_TOKEN>`` (compared in constant
time); without a configured token the endpoint refuses everyone.

Several processes: request, database and cache metrics are counted inside each web worker
process. When ``PROMETHEUS_MULTIPROC_DIR`` is set (scripts/serve.sh sets it for gunicorn's
workers), prometheus-client's multiprocess mode writes them to files there and any worker
answering a scrape sums all of them; otherwise the process's own registry is served.

Per-camera numbers come from the stream runners, which live in Celery worker processes,
possibly on other machines: they are read from the database at scrape time by the collectors
that apps register with :func:`scrape_collector_register` (counting/metrics.py), never from
a runner's memory.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

_scrape_registry = CollectorRegistry(auto_describe=False)


class _Scraped(Collector):
    """Adapts a function returning metric families to prometheus-client's Collector."""

    def __init__(self, produce: Callable[[], Iterable[Metric]]) -> None:
        self.produce = produce

    def collect(self) -> Iterable[Metric]:
        return self.produce()


def scrape_collector_register(produce: Callable[[], Iterable[Metric]]) -> None:
    """Run ``produce`` on every scrape of the endpoint (in the process answering it)."""
    _scrape_registry.register(_Scraped(produce))


def metrics_text() -> bytes:
    """The exposition text: the process (or all workers') metrics, then the scraped ones."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_scrape_registry)


def _refusal(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The endpoint itself: the bearer token, then the metrics."""
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    if not token:
        return _refusal(403, "Metrics are disabled on this server: set METRICS_TOKEN and "
                             "scrape with 'Authorization: Bearer <token>'.")
    given = request.headers.get("Authorization", "")
    scheme, _, credentials = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(),
                                                             token.encode()):
        return _refusal(401, "Metrics need 'Authorization: Bearer <METRICS_TOKEN>'; the "
                             "token was missing or wrong.")
    if request.method not in ("GET", "HEAD"):
        return _refusal(405, "Use GET to read the metrics.")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)


class MetricsEndpointMiddleware:
    """Answers ``METRICS_PATH`` on every host before any tenant lookup or session work."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.path = str(getattr(settings, "METRICS_PATH", "/metrics"))

    def __call__(self, request: HttpRequest) -> Any:
        if request.path == self.path:
            return metrics_view(request)
        return self.get_response(request)
