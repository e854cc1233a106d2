"""`check --deploy` fails on published placeholder secrets and weak keys; production never
serves the platform admin on an unknown host."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from typing import Any

from django.test import override_settings

from tenants.security_checks import check_secrets, check_tenant_routing, placeholder_secrets
from tests.conftest import REPO_ROOT
from tests.foundation.test_settings import SECRETS, _check

ENV_EXAMPLE_SECRET = "change-me-to-a-long-random-string-of-at-least-fifty-characters-please"
BASE_DEFAULT_FIELD_KEY = "bG9jYWwtb25seS1rZXktZG8tbm90LXVzZS1pbi1wcm9kIQ=="


def test_the_env_example_values_are_known_placeholders() -> None:
    assert ENV_EXAMPLE_SECRET in placeholder_secrets(REPO_ROOT / ".env.example")


def test_check_deploy_fails_on_placeholders_and_short_keys() -> None:
    # given production settings with the .env.example secret key, the development encryption
    # key and a 16-byte encryption key
    short = base64.urlsafe_b64encode(b"sixteen-byte-key").decode()
    result = _check({**SECRETS, "DJANGO_SECRET_KEY": ENV_EXAMPLE_SECRET,
                     "FIELD_ENCRYPTION_KEYS": f"{BASE_DEFAULT_FIELD_KEY},{short}"})
    # then the check fails, naming each problem and how to fix it
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "(tenants.E101) DJANGO_SECRET_KEY is a placeholder published in this repository" in out
    assert "(tenants.E103) FIELD_ENCRYPTION_KEYS entry 1 is a placeholder" in out
    assert "(tenants.E104) FIELD_ENCRYPTION_KEYS entry 2 holds 16 bytes, fewer than 32" in out


@override_settings(SECRET_KEY="s" * 10 + "-abcdefghij", SECRET_KEY_FALLBACKS=[ENV_EXAMPLE_SECRET],
                   FIELD_ENCRYPTION_KEYS=["eouV1EWoJf_iTOcyvBSIp1BedXg9kwGPvvDe4SOXh3g="])
def test_short_secret_keys_and_placeholder_fallbacks_are_errors() -> None:
    ids = [error.id for error in check_secrets()]
    assert ids == ["tenants.E102", "tenants.E101"]


def test_showing_the_public_schema_for_unknown_hosts_is_an_error() -> None:
    with override_settings(SHOW_PUBLIC_IF_NO_TENANT_FOUND=True):
        assert [e.id for e in check_tenant_routing()] == ["tenants.E105"]
    with override_settings(SHOW_PUBLIC_IF_NO_TENANT_FOUND=False):
        assert check_tenant_routing() == []


def test_production_forces_show_public_off_even_if_the_environment_asks(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(SECRETS, DJANGO_SETTINGS_MODULE="config.settings.production",
               SHOW_PUBLIC_IF_NO_TENANT_FOUND="true")
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; "
         "print(settings.SHOW_PUBLIC_IF_NO_TENANT_FOUND)"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
