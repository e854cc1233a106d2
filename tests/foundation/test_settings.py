"""Production settings refuse to start without secrets and pass ``check --deploy``."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

SECRETS = {
    "DJANGO_SECRET_KEY": "p" * 20 + "-Very-Long-Random-Production-Secret-Key-0123456789",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/peoplecount",
    "FIELD_ENCRYPTION_KEYS": "bG9jYWwtb25seS1rZXktZG8tbm90LXVzZS1pbi1wcm9kIQ==",
    "DJANGO_ALLOWED_HOSTS": ".example.com",
}


def _check(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(env_extra, DJANGO_SETTINGS_MODULE="config.settings.production")
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level",
                           "WARNING"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_production_check_deploy_is_clean() -> None:
    result = _check(SECRETS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secret_key() -> None:
    result = _check({k: v for k, v in SECRETS.items() if k != "DJANGO_SECRET_KEY"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_production_refuses_to_start_without_encryption_keys() -> None:
    result = _check({**SECRETS, "FIELD_ENCRYPTION_KEYS": ""})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr
