"""Test settings: the real PostgreSQL, Redis and RabbitMQ, separate databases and key prefixes."""

import os
import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, CHANNEL_LAYERS, DATABASES, channels_redis_host, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation
CACHES["default"]["LOCATION"] = env.str("TEST_CACHE_URL", default="redis://127.0.0.1:6379/11")
# Each test run has its own key prefix: parallel runs never read or clear each other's keys.
# Processes a test starts (servers, workers) are given the same prefix through the environment.
CACHES["default"]["KEY_PREFIX"] = env.str("TEST_CACHE_KEY_PREFIX", default=f"pc-test-{os.getpid()}")
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [  # type: ignore[index]
    channels_redis_host(env.str("TEST_CHANNELS_REDIS_URL", default="redis://127.0.0.1:6379/12"))
]
CELERY_RESULT_BACKEND = env.str("TEST_CELERY_RESULT_BACKEND", default="redis://127.0.0.1:6379/13")
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
LOG_LEVEL = "WARNING"
# Tests load the detector in process unless they test the inference service itself.
COUNTING_INFERENCE = env.str("COUNTING_INFERENCE", default="local")
# Several test runs on one machine (developers side by side) each need their own database, so
# the default name carries the process id of the test run.
DATABASES["default"]["TEST"] = {
    "NAME": env.str("TEST_DATABASE_NAME", default=f"test_peoplecount_{os.getpid()}"),
    # Cloned from the template scripts/db_create.sh prepares (the audit roles' objects), as the
    # application's own, non-superuser role.
    "TEMPLATE": env.str("TEST_DATABASE_TEMPLATE", default="peoplecount_template"),
}
# Tenants deleted by tests export their audit trail here, not into the working tree.
AUDIT_EXPORT_DIR = Path(env.str("TEST_AUDIT_EXPORT_DIR", default=str(
    Path(tempfile.gettempdir()) / f"peoplecount-test-audit-exports-{os.getpid()}")))
