"""REST API settings (DRF, drf-spectacular, django-filter); imported by base.py.

Rates are per user (session), per token and per anonymous address, each within its tenant, and
per tenant as a whole (all its requests; its series requests).
"""

from __future__ import annotations

import environ

_env = environ.Env()

REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "tenants.rest.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tenants.rest.throttling.UserRateThrottle",
        "tenants.rest.throttling.TokenRateThrottle",
        "tenants.rest.throttling.AnonRateThrottle",
        "tenants.rest.throttling.TenantRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": _env.str("API_THROTTLE_USER", default="1200/min"),
        "token": _env.str("API_THROTTLE_TOKEN", default="600/min"),
        "anon": _env.str("API_THROTTLE_ANON", default="60/min"),
        # Every request of one tenant together, and its series (/counts/, /occupancy/).
        "tenant": _env.str("API_THROTTLE_TENANT", default="6000/min"),
        "tenant_series": _env.str("API_THROTTLE_TENANT_SERIES", default="300/min"),
    },
    "EXCEPTION_HANDLER": "tenants.rest.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "tenants.rest.schema.ApiAutoSchema",
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS: dict[str, object] = {
    "TITLE": "People counting API",
    "DESCRIPTION": (
        "The REST API of a tenant, served on the tenant's own domain under /api/v1/. "
        "Authenticate with the portal session (browser) or a personal API token "
        "(`Authorization: Bearer pc_...`). Every error has the shape "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Served by config/api_urls.py from the installed drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "/api/docs/assets/swagger-ui-dist",
    "SWAGGER_UI_FAVICON_HREF": "/api/docs/assets/swagger-ui-dist/favicon-32x32.png",
    "REDOC_DIST": "/api/docs/assets/redoc",
    "ENUM_NAME_OVERRIDES": {
        "CameraStatusEnum": "cameras.constants.CameraStatus",
        # Same field names, different choice sets: each set gets its own component name.
        "SeriesBucketEnum": "analytics.series.BUCKETS",
        "ReportBucketEnum": "analytics.reports.models.ReportBucket",
        "OccupancyResetKindEnum": "analytics.models.OccupancyResetKind",
        "ExportKindEnum": ["counts", "occupancy"],
        "RuleKindEnum": "analytics.alerts.constants.RuleKind",
        "DetectorModelFormatEnum": "tenants.platform.models.ModelFormat",
        "FormatEnum": "analytics.reports.models.ExportFormat",  # the name it always had
    },
}

# While the throttle cache (Redis) is unavailable, requests go through unthrottled with an
# X-Throttle-Degraded header; the cache is retried (and a warning logged) this often.
API_THROTTLE_CACHE_RETRY_S = _env.float("API_THROTTLE_CACHE_RETRY_S", default=5.0)

# Snapshots (cameras/api/snapshot_gate.py). One deadline for a snapshot request: DNS, connect
# and first frame.
API_SNAPSHOT_TIMEOUT_S = _env.float("API_SNAPSHOT_TIMEOUT_S", default=5.0)
# Grabs at once per tenant and per web process; a request waits this long for a slot, then is
# answered 429 (tenant) or 503 (process) with Retry-After.
API_SNAPSHOT_PER_TENANT = _env.int("API_SNAPSHOT_PER_TENANT", default=2)
API_SNAPSHOT_PER_PROCESS = _env.int("API_SNAPSHOT_PER_PROCESS", default=8)
API_SNAPSHOT_WAIT_S = _env.float("API_SNAPSHOT_WAIT_S", default=0.5)
# Snapshot requests in flight per Host (tenant domain) and per web process, admitted before
# any database access; beyond them the answer is an immediate 429 / 503 (cameras/api/admission.py).
# Per Host as many as the tenant's grabs: each admitted request runs Django's whole stack (a
# thread, the tenant, the token) and 6 of them kept another tenant's p95 at 1.7x under daphne
# (docs/security.md, benchmarks/bench_snapshots.py).
API_SNAPSHOT_INFLIGHT_PER_HOST = _env.int("API_SNAPSHOT_INFLIGHT_PER_HOST", default=2)
API_SNAPSHOT_INFLIGHT = _env.int("API_SNAPSHOT_INFLIGHT", default=24)
# Seconds an answer (a picture or a failure) of a camera is reused.
API_SNAPSHOT_CACHE_S = _env.float("API_SNAPSHOT_CACHE_S", default=5.0)
# The largest picture (width x height) a snapshot decodes; checked from the headers first.
API_SNAPSHOT_MAX_PIXELS = _env.int("API_SNAPSHOT_MAX_PIXELS", default=7680 * 4320)

# Database time one /counts/ or /occupancy/ query may take (SET LOCAL statement_timeout); a
# slower one is stopped and answered 503 query_timeout. 0 keeps the connection's own timeout.
SERIES_STATEMENT_TIMEOUT_S = _env.float("SERIES_STATEMENT_TIMEOUT_S", default=5.0)
