"""Alert settings: evaluation cadence, delivery (SMTP, SMS, webhooks), rate limits and digests.

Imported at the end of ``base.py``; every value comes from the environment through ``env``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ

from config.settings.streams import CELERY_BEAT_SCHEDULE

env = environ.Env()  # the same process environment (and .env file) that base.py reads

# E-mail goes through Django's backend with the SMTP settings of config/settings/email.py.

# --- SMS: Twilio's client library ----------------------------------------------------------------
ALERTS_TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
ALERTS_TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
ALERTS_TWILIO_FROM = env.str("TWILIO_FROM_NUMBER", default="")
# The REST API's base URL: settable so tests (and a regional proxy) can point the client at
# another server. Empty means the library's own default.
ALERTS_TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="")
ALERTS_SMS_TIMEOUT_S = env.float("ALERTS_SMS_TIMEOUT_S", default=10.0)

# --- Webhooks -----------------------------------------------------------------------------------
ALERTS_WEBHOOK_TIMEOUT_S = env.float("ALERTS_WEBHOOK_TIMEOUT_S", default=10.0)
# Webhook URLs go through the camera URL policy (cameras/url_policy.py); loopback only where the
# deployment allows it (tests, a local receiver).
ALERTS_WEBHOOK_ALLOW_LOOPBACK = env.bool("ALERTS_WEBHOOK_ALLOW_LOOPBACK", default=False)

# --- Retries: exponential backoff, first retry after BASE s, doubling, capped, for up to 24 h ---
ALERTS_RETRY_BASE_S = env.float("ALERTS_RETRY_BASE_S", default=30.0)
ALERTS_RETRY_MAX_DELAY_S = env.float("ALERTS_RETRY_MAX_DELAY_S", default=3600.0)
ALERTS_RETRY_FOR_S = env.float("ALERTS_RETRY_FOR_S", default=24 * 3600.0)
# A delivery claimed by a worker that died is taken over after this long.
ALERTS_CLAIM_TIMEOUT_S = env.float("ALERTS_CLAIM_TIMEOUT_S", default=120.0)

# --- Rate limits and digests ----------------------------------------------------------------------
# Messages (one e-mail, SMS or webhook call) per rolling hour; beyond them notifications wait and
# leave together as one digest when the window allows.
ALERTS_RATE_PER_RULE_PER_HOUR = env.int("ALERTS_RATE_PER_RULE_PER_HOUR", default=20)
ALERTS_RATE_PER_TENANT_PER_HOUR = env.int("ALERTS_RATE_PER_TENANT_PER_HOUR", default=500)
# Notifications to one recipient are gathered for this long before the first send: alerts that
# fire together reach a person as one digest.
ALERTS_DIGEST_WINDOW_S = env.float("ALERTS_DIGEST_WINDOW_S", default=2.0)

# --- Queue: delivery and evaluation tasks run on the short-task queue -------------------------
ALERTS_QUEUE = env.str("ALERTS_QUEUE", default=env.str("COUNTING_SHORT_QUEUE", default="short"))
# Evaluation of committed batches may get a queue of its own, so a slow mail server never delays
# the evaluation of other cameras (the same short queue by default).
ALERTS_EVALUATION_QUEUE = env.str("ALERTS_EVALUATION_QUEUE", default=ALERTS_QUEUE)

# --- Evaluation -----------------------------------------------------------------------------------
# Time-based conditions (footfall at a period's end, durations when no batch arrives, resolution
# of footfall alerts) and the outbox of notifications whose dispatch was lost are swept this often.
ALERTS_SWEEP_S = env.float("ALERTS_SWEEP_S", default=15.0)
# "Analysed below its detect fps": fps_analysed < detect_fps * this ratio.
ALERTS_LOW_FPS_RATIO = env.float("ALERTS_LOW_FPS_RATIO", default=0.8)
# Link in notifications back to the portal; {domain} is the tenant's primary domain.
ALERTS_PORTAL_URL = env.str("ALERTS_PORTAL_URL", default="http://{domain}:8000")

# The beat schedule is streams.py's dict (the one base.py exports): the sweep joins it.
CELERY_BEAT_SCHEDULE.update({
    "analytics-alerts-sweep": {
        "task": "analytics.alerts_sweep",
        "schedule": timedelta(seconds=ALERTS_SWEEP_S),
        "options": {"expires": ALERTS_SWEEP_S},
    },
})

# --- Reports and exports (analytics/reports, docs/reports.md) ---------------------------------
# Scheduled reports: the due check runs this often (a period is claimed once in the database,
# so a restarted or doubled beat never sends twice).
REPORTS_DUE_CHECK_S = env.float("REPORTS_DUE_CHECK_S", default=60.0)
# Sends and exports are dispatched to this queue (the short-task queue by default).
REPORTS_QUEUE = env.str("REPORTS_QUEUE", default=ALERTS_QUEUE)
# Exports made by a task: where their files live (one directory per tenant schema) and how long
# a signed download link works (the file is deleted after this too).
REPORTS_EXPORT_DIR = env.path(
    "REPORTS_EXPORT_DIR",
    default=Path(__file__).resolve().parent.parent.parent / "var" / "exports")
REPORTS_EXPORT_TTL_S = env.int("REPORTS_EXPORT_TTL_S", default=24 * 3600)

CELERY_BEAT_SCHEDULE.update({
    "analytics-reports-due": {
        "task": "analytics.reports_due",
        "schedule": timedelta(seconds=REPORTS_DUE_CHECK_S),
        "options": {"expires": REPORTS_DUE_CHECK_S},
    },
})
