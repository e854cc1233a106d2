"""Local development: debug on, loopback cameras allowed for the bundled simulator."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
WHITENOISE_AUTOREFRESH = DEBUG  # static files edited while `make run` runs are served anew
CAMERA_URL_ALLOW_LOOPBACK = env.bool("CAMERA_URL_ALLOW_LOOPBACK", default=True)
