"""Fixtures of the export and scheduled-report tests (the API tests' world, clients and cache
reset)."""

from tests.api.conftest import _fresh_cache, api_client, world_a  # noqa: F401 (pytest fixtures)
