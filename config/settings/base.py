"""Settings shared by every environment; every value comes from the environment via ``env``."""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SHARED_DIR_DEFAULT = BASE_DIR.parent / "shared"

env = environ.Env()
_env_file = BASE_DIR / ".env"
if _env_file.exists():
    env.read_env(str(_env_file))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me-0123456789")
# Earlier secret keys, still accepted for signatures, sessions and API tokens while they are
# rotated out (a token verified under one is re-hashed under SECRET_KEY).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[".localhost", "localhost", "127.0.0.1"])

# --- Applications -----------------------------------------------------------------------------
# The public schema holds tenants, domains, plans, platform staff and their audit trail.
SHARED_APPS = [
    "tenants",  # before django_tenants so that our create_tenant/delete_tenant commands win
    "tenants.platform",  # platform-wide tables: the model registry
    "django_tenants",
    "daphne",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "axes",
    "audit",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_prometheus",
]
# Each tenant schema holds its own users, groups, object permissions, cameras and counts.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "axes",
    "guardian",
    "audit",
    "cameras",
    "counting",
    "analytics",
    "tenants.accounts",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# `SET search_path` once per connection and tenant instead of before every query: django-tenants
# forgets it on set_tenant() (every request, every tenant_context), close() (every return to
# the pool), rollback and savepoint rollback, so it is re-sent exactly when it may have
# changed. Half the round trips of a typical API request (docs/deploy.md).
TENANT_LIMIT_SET_CALLS = env.bool("TENANT_LIMIT_SET_CALLS", default=True)
# `migrate_schemas --executor multiprocessing`: processes migrating schemas side by side (one
# per core of the machine running the deploy; benchmarks/bench_migrate_schemas.py).
TENANT_MULTIPROCESSING_MAX_PROCESSES = env.int("TENANT_MULTIPROCESSING_MAX_PROCESSES", default=2)
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# Development convenience only: production forces it off (an unknown host would otherwise be
# served the platform admin), and `check --deploy` fails while it is on (tenants.E105).
SHOW_PUBLIC_IF_NO_TENANT_FOUND = env.bool("SHOW_PUBLIC_IF_NO_TENANT_FOUND", default=True)
PUBLIC_DOMAIN = env.str("PUBLIC_DOMAIN", default="localhost")

MIDDLEWARE = [
    # Request metrics (django-prometheus): its "before" middleware first, "after" last.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # /static/ (the admin's and the portal's files, static/vendor/'s libraries) is served
    # by daphne itself on every domain, before a tenant is looked up (docs/portal.md).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the tenant lookup: bounds snapshot requests in flight before they use a database
    # connection (cameras/api/admission.py).
    "cameras.api.admission.SnapshotAdmissionMiddleware",
    # METRICS_PATH on any host, before the tenant lookup (tenants/metrics.py: bearer token).
    "tenants.metrics.MetricsEndpointMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "tenants.middleware.SuspendedTenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out credentials, then lets the model backend authenticate.
    "axes.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The portal's main navigation (templates/base.html).
                "analytics.portal.navigation.portal_nav",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Data stores ------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://peoplecount@127.0.0.1:5432/peoplecount")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# django-tenants wraps this backend (search_path per tenant); django-prometheus' PostgreSQL
# backend under it counts connections, queries, their durations and errors.
ORIGINAL_BACKEND = "django_prometheus.db.backends.postgresql"
DATABASES["default"].setdefault("CONN_MAX_AGE", 0)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


# Every network call has a bound (issue 16). The server-side timeouts travel in the libpq
# startup packet (``options=-c ...``), so they hold from the first statement of every connection
# of every process; 0 disables one. Migrations replace the first three with their own
# DATABASE_MIGRATE_* values (tenants/db_timeouts.py), so a long migration is not killed by the
# web's statement timeout.
DATABASE_TIMEOUTS_MS = {
    # A query running longer than this is cancelled by the server.
    "statement_timeout": _ms(env.float("DATABASE_STATEMENT_TIMEOUT_S", default=30.0)),
    # A statement waiting this long for a lock (a row another transaction holds) fails at once
    # with "canceling statement due to lock timeout" instead of hanging its caller.
    "lock_timeout": _ms(env.float("DATABASE_LOCK_TIMEOUT_S", default=5.0)),
    # A transaction left open and idle this long (a stuck process) is ended by the server,
    # releasing its locks.
    "idle_in_transaction_session_timeout": _ms(
        env.float("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_S", default=60.0)),
}
DATABASE_MIGRATE_TIMEOUTS_MS = {
    "statement_timeout": _ms(env.float("DATABASE_MIGRATE_STATEMENT_TIMEOUT_S", default=0.0)),
    "lock_timeout": _ms(env.float("DATABASE_MIGRATE_LOCK_TIMEOUT_S", default=0.0)),
    "idle_in_transaction_session_timeout": _ms(
        env.float("DATABASE_MIGRATE_IDLE_IN_TRANSACTION_TIMEOUT_S", default=0.0)),
}
DATABASES["default"].setdefault("OPTIONS", {}).update({
    # A partitioned network must fail a connection attempt quickly, not hang a stream runner.
    "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=3),
    "options": " ".join(f"-c {name}={value}" for name, value in DATABASE_TIMEOUTS_MS.items()),
    # TCP keepalives find a peer that vanished (host down, cable cut) on an idle connection:
    # first probe after `idle` s, then every `interval` s, dead after `count` unanswered.
    "keepalives": 1,
    "keepalives_idle": env.int("DATABASE_KEEPALIVES_IDLE_S", default=10),
    "keepalives_interval": env.int("DATABASE_KEEPALIVES_INTERVAL_S", default=5),
    "keepalives_count": env.int("DATABASE_KEEPALIVES_COUNT", default=3),
    # Data sent and not acknowledged for this long (a partition in the middle of a query) closes
    # the connection; keepalives alone only cover idle connections.
    "tcp_user_timeout": _ms(env.float("DATABASE_TCP_USER_TIMEOUT_S", default=30.0)),
})
# Connection pooling (Django's psycopg pool) for the web processes: a request borrows a
# connection instead of opening one (docs/deploy.md). Off by default and never in Celery
# workers (config/celery.py drops it there): a stream runner's threads each hold a connection
# for the whole run and its lease thread a session advisory lock. CONN_MAX_AGE must stay 0.
DATABASE_POOL = env.bool("DATABASE_POOL", default=False)
if DATABASE_POOL:
    if DATABASES["default"]["CONN_MAX_AGE"]:
        raise ImproperlyConfigured("DATABASE_POOL needs CONN_MAX_AGE=0 (the pool keeps the "
                                   "connections; a persistent one would never go back to it).")
    from tenants.db_pool import pool_reset

    DATABASES["default"]["OPTIONS"]["pool"] = {
        # Per process: a node runs (cores x 2 + 1) web workers, each with up to max_size.
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=8),
        # A request waiting longer than this for a connection fails (503) instead of hanging.
        "timeout": env.float("DATABASE_POOL_TIMEOUT_S", default=10.0),
        "max_idle": env.float("DATABASE_POOL_MAX_IDLE_S", default=300.0),
        "reset": pool_reset,
    }
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# A Redis that is down fails a connect within REDIS_CONNECT_TIMEOUT_S; one that stops answering
# (frozen, partitioned) fails a command within REDIS_SOCKET_TIMEOUT_S instead of blocking its
# caller without end. Connections idle longer than the health-check interval are pinged first.
REDIS_CONNECT_TIMEOUT_S = env.float("REDIS_CONNECT_TIMEOUT_S", default=2.0)
REDIS_SOCKET_TIMEOUT_S = env.float("REDIS_SOCKET_TIMEOUT_S", default=2.0)
REDIS_HEALTH_CHECK_INTERVAL_S = env.int("REDIS_HEALTH_CHECK_INTERVAL_S", default=30)
CACHES = {
    "default": {
        # Django's Redis cache with django-prometheus' hit/miss counters (tenants/cache.py).
        "BACKEND": "tenants.cache.MeteredRedisCache",
        "LOCATION": env.str("CACHE_URL", default="redis://127.0.0.1:6379/1"),
        # Every cache key starts with the tenant schema: camera 1 exists in every tenant.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="pc"),
        # Passed to redis-py's connection pool. The cache only feeds throttling, which lets
        # requests through when it fails (tenants/accounts/throttling.py), so keep these short.
        "OPTIONS": {
            "socket_connect_timeout": env.float("CACHE_CONNECT_TIMEOUT_S", default=1.0),
            "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT_S", default=1.0),
            "health_check_interval": REDIS_HEALTH_CHECK_INTERVAL_S,
        },
    }
}

# channels_redis blocks in BZPOPMIN for up to 5 s (RedisChannelLayer.brpop_timeout) while a
# consumer waits for a message, so its socket timeout must be longer than that.
CHANNELS_REDIS_SOCKET_TIMEOUT_S = env.float("CHANNELS_REDIS_SOCKET_TIMEOUT_S", default=10.0)


def channels_redis_host(url: str) -> dict[str, object]:
    """One channels_redis host entry: its URL with the connection timeouts."""
    return {"address": url, "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S,
            "socket_timeout": CHANNELS_REDIS_SOCKET_TIMEOUT_S,
            "health_check_interval": REDIS_HEALTH_CHECK_INTERVAL_S}


CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [channels_redis_host(
                env.str("CHANNELS_REDIS_URL", default="redis://127.0.0.1:6379/2"))],
            "prefix": env.str("CHANNELS_PREFIX", default="asgi"),
        },
    }
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="amqp://guest:guest@127.0.0.1:5672//")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="redis://127.0.0.1:6379/3")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Bounds on the broker and result-backend calls: a publish to an unreachable RabbitMQ fails
# after the connect timeout instead of hanging the caller; heartbeats find a dead broker
# connection of a worker.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT_S", default=4.0)
CELERY_BROKER_HEARTBEAT = env.int("CELERY_BROKER_HEARTBEAT_S", default=30)
# A RabbitMQ restart never ends a worker or beat: they reconnect without end (Celery's default
# gives up after 100 tries), waiting at most CELERY_BROKER_RECONNECT_MAX_S between two tries
# (kombu's own default grows to 30 s; config/celery.py applies the cap), so a worker is back
# within seconds of the broker. Running stream tasks go on meanwhile: they were acknowledged on
# receipt, and the worker's consumer reconnecting does not touch its pool.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_RECONNECT_MAX_S = env.float("CELERY_BROKER_RECONNECT_MAX_S", default=5.0)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A publish (supervisor, services) to a broker that is down is retried briefly, then fails: the
# caller goes on and tries again later; it never waits for the broker to come back.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 1.0}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_CONNECT_TIMEOUT_S
CELERY_REDIS_SOCKET_TIMEOUT = REDIS_SOCKET_TIMEOUT_S

# --- Auth, passwords, sessions ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row per tenant
GUARDIAN_RAISE_403 = False

# Password guessing (tenants/accounts/lockout.py): failed logins within the window
# (AXES_COOLOFF_HOURS, which is also how long a lockout lasts) are limited per (username, client
# address), per username from any address (guessing spread over many addresses) and per client
# address for any username (one address trying many accounts).
AXES_HANDLER = "tenants.accounts.lockout.TieredLockoutHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)  # per (username, address)
AUTH_LOCKOUT_USERNAME_LIMIT = env.int("AUTH_LOCKOUT_USERNAME_LIMIT", default=20)
AUTH_LOCKOUT_IP_LIMIT = env.int("AUTH_LOCKOUT_IP_LIMIT", default=50)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = "tenants.accounts.lockout.lockout_parameters"
AXES_RESET_ON_SUCCESS = True  # only the (username, address) pair: see the handler
AXES_CLIENT_IP_CALLABLE = "audit.client_ip.client_ip"
# A locked-out sign-in gets a page (or the API's JSON error) saying which limit was reached,
# for how long and how to get back in.
AXES_LOCKOUT_CALLABLE = "tenants.accounts.lockout.lockout_response"
# Logins are in the audit trail already; axes' own per-login rows would grow without bound.
AXES_DISABLE_ACCESS_LOG = True
# Addresses or networks of the deployment's reverse proxies: only a request from one of them
# has its X-Forwarded-For read (audit/client_ip.py). Empty: the peer address is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# The portal's own files and the vendored libraries (frontend/package.json pins them).
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves from the apps' and STATICFILES_DIRS' folders directly (no collectstatic
# step needed to run); a deployment that runs collectstatic may turn this off.
WHITENOISE_USE_FINDERS = env.bool("STATIC_USE_FINDERS", default=True)
WHITENOISE_AUTOREFRESH = DEBUG

# --- Product settings ---------------------------------------------------------------------------
# Keys for camera credentials (urlsafe base64 of >= 32 random bytes; cameras/crypto.py derives
# the cipher keys with HKDF). The first encrypts, all decrypt: rotate by prepending a new key,
# running `manage.py rotate_camera_keys`, then removing the old one.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=["bG9jYWwtb25seS1rZXktZG8tbm90LXVzZS1pbi1wcm9kIQ=="]
)
# Camera URL policy (see cameras/url_policy.py).
CAMERA_URL_ALLOW_PRIVATE = env.bool("CAMERA_URL_ALLOW_PRIVATE", default=True)
CAMERA_URL_ALLOW_LOOPBACK = env.bool("CAMERA_URL_ALLOW_LOOPBACK", default=False)

SHARED_DIR = Path(env.str("SHARED_DIR", default=str(SHARED_DIR_DEFAULT)))
COUNTING_MODEL_PATH = Path(
    env.str("COUNTING_MODEL_PATH", default=str(SHARED_DIR / "models" / "yolox_nano.onnx"))
)
# The nodes' model store: registry models (tenants.platform AiModel.file_path) are read below it.
COUNTING_MODEL_STORE = Path(env.str("COUNTING_MODEL_STORE", default=str(SHARED_DIR / "models")))
# Registration evaluates a model on the reference footage (PETS09-S2L1 under SHARED_DIR) at this
# analysis rate; 0 frames means the whole video (tests use a short prefix).
REGISTRY_EVAL_FPS = env.float("REGISTRY_EVAL_FPS", default=5.0)
REGISTRY_EVAL_FRAMES = env.int("REGISTRY_EVAL_FRAMES", default=0)
REGISTRY_EVAL_RANDOM_LINES = env.int("REGISTRY_EVAL_RANDOM_LINES", default=50)
# Processes for the registration's detection pass (0: one per core).
REGISTRY_EVAL_WORKERS = env.int("REGISTRY_EVAL_WORKERS", default=0)
COUNTING_SCORE_THRESHOLD = env.float("COUNTING_SCORE_THRESHOLD", default=0.3)
# One CPU thread per stream process: each camera runs batch 1 in its own prefork child, and with
# passive OpenMP threads a second thread costs more in wake-ups than it saves (docs/pipeline.md:
# 27-31 ms per frame on 1 thread vs 34-40 ms on 2, and 30 vs 41-45 ms next to a busy process).
# 0 means torch's default (all cores).
COUNTING_TORCH_THREADS = env.int("COUNTING_TORCH_THREADS", default=1) or None
COUNTING_DEVICE = env.str("COUNTING_DEVICE", default="") or None
# Side of the square detector input, a multiple of 32 (counting/pipeline/detectors/input_size.py):
# best at the cameras' own width when that is affordable; 0 means the model's own 416.
COUNTING_DETECTOR_INPUT_SIZE = env.int("COUNTING_DETECTOR_INPUT_SIZE", default=480) or None
# The torch detector's number format (counting/pipeline/detectors/precision.py): float32, bfloat16
# or auto (bfloat16 where the CPU has AMX tiles: ~1.9x the frames per core in batches, counts
# not bit-identical to float32's; docs/pipeline.md, "Precision").
COUNTING_DETECTOR_PRECISION = env.str("COUNTING_DETECTOR_PRECISION", default="float32")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "plain" (a line per record, as below) or "json": one JSON object per line with time, level,
# logger, message, request_id, tenant and camera (python-json-logger), for a log shipper.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "audit.logging.RequestContextFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s tenant=%(schema)s] "
            "%(message)s"
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(schema)s "
                   "%(camera)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger",
                              "schema": "tenant"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},
    },
}

# The Prometheus endpoint (tenants/metrics.py): served on every host at METRICS_PATH to
# requests carrying "Authorization: Bearer <METRICS_TOKEN>"; refused to all while it is empty.
METRICS_PATH = env.str("METRICS_PATH", default="/metrics")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The migrations of 500 tenant schemas are not read at every start (django-prometheus).
PROMETHEUS_EXPORT_MIGRATIONS = False

# Failed logins are counted per hour, username and address (audit.models.FailedLoginTally):
# at most this many rows per hour and schema (the rest in one overflow row), kept this long.
AUDIT_FAILED_LOGIN_KEYS_PER_HOUR = env.int("AUDIT_FAILED_LOGIN_KEYS_PER_HOUR", default=1000)
AUDIT_FAILED_LOGIN_RETENTION_DAYS = env.int("AUDIT_FAILED_LOGIN_RETENTION_DAYS", default=90)

# Where a tenant's audit trail is exported (JSON Lines with its hash chain) before its schema is
# dropped; `manage.py verify_audit --file` checks an export.
AUDIT_EXPORT_DIR = Path(env.str("AUDIT_EXPORT_DIR",
                                default=str(BASE_DIR / "var" / "audit-exports")))

# Where `manage.py backup_tenant` writes tenant archives unless given --output.
TENANT_BACKUP_DIR = Path(env.str("TENANT_BACKUP_DIR", default=str(BASE_DIR / "var" / "backups")))

# The demo camera reads the local simulator (scripts/camera_simulator.py) started by `make run`.
DEMO_CAMERA_URL = env.str("DEMO_CAMERA_URL", default="http://127.0.0.1:8554/video.mjpg")

from config.settings.alerts import *  # noqa: E402, F403
from config.settings.email import *  # noqa: E402, F403
from config.settings.rest import *  # noqa: E402, F403
from config.settings.streams import *  # noqa: E402, F403
