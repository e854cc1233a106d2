"""Fixtures of the export and scheduled-report tests (the API tests' clients and cache reset)."""

from tests.api.conftest import _fresh_cache, api_client  # noqa: F401 (pytest fixtures)
