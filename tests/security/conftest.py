"""The API fixtures (a populated tenant, API clients, row snapshots) for the security tests."""

from tests.api.conftest import (  # noqa: F401 (fixtures)
    _fresh_cache,
    api_client,
    state_of,
    token_for,
    world_a,
)
