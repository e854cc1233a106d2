"""Fixtures of the security tests: the API's populated tenant, clients and row snapshots
(from tests/api), and the network tests' servers and scripted resolver (net_fixtures.py)."""

from tests.api.conftest import (  # noqa: F401 (fixtures)
    _fresh_cache,
    api_client,
    state_of,
    token_for,
    world_a,
)
from tests.security.net_fixtures import (  # noqa: F401 (fixtures)
    camera_server,
    resolver,
    second_server,
    silent_server,
)
