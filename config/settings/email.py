"""Outgoing e-mail (invitations, password resets) from the environment; imported by base.py.

``EMAIL_HOST``/``EMAIL_PORT`` name the SMTP relay; ``EMAIL_USE_TLS`` (STARTTLS) or
``EMAIL_USE_SSL`` (implicit TLS) protect the connection; ``EMAIL_TIMEOUT_S`` bounds every SMTP
call so a relay that stops answering fails the send instead of hanging the request.
"""

from __future__ import annotations

import environ

env = environ.Env()

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT_S", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="People counting <noreply@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# How long a password-reset or invitation link stays valid (a new one can be asked for).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_S", default=3 * 24 * 3600)

if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ValueError("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL.")
