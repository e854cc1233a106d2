"""Property-based calls of every operation in the live OpenAPI schema (schemathesis).

The schema is fetched from ``/api/schema/`` on tenant A's domain and every operation is called
with generated valid and invalid input as tenant A's Owner (a token). No answer may be a 5xx,
and every answer must match the documented status codes, content types and body schemas.
A bounded, derandomized number of examples per operation keeps the run short and repeatable.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import TENANTS

HOST = TENANTS["a"]["domain"]
MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]


@pytest.fixture
def wsgi_app() -> Any:
    """The real WSGI application, kept on the test's connection and transaction (as Django's
    test client does, by not closing connections at the end of each request)."""
    from django.core import signals
    from django.db import close_old_connections

    from config.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def owner_token(world_a: Any, token_for: Any) -> str:
    return str(token_for(world_a.tenant, world_a.owner))


@pytest.fixture(autouse=True)
def _no_throttling() -> Any:
    from django.conf import settings as django_settings

    rates = {"user": "100000/min", "token": "100000/min", "anon": "100000/min"}
    with override_settings(REST_FRAMEWORK={**django_settings.REST_FRAMEWORK,
                                           "DEFAULT_THROTTLE_RATES": rates}):
        yield


def _generated_schema() -> dict[str, Any]:
    """The schema /api/schema/ serves, built by the same generator without a request (so it
    is known at collection time, before the database exists); test_the_served_schema_is_the_
    tested_one proves both are equal."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def _as_json(value: Any) -> Any:
    import json

    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(value))


schema = schemathesis.openapi.from_dict(_as_json(_generated_schema()))


def test_the_served_schema_is_the_tested_one(world_a: Any, api_client: Any) -> None:
    served = api_client("a").get("/api/schema/?format=json")
    assert served.status_code == 200
    assert served.json() == _as_json(_generated_schema())
    assert len(served.json()["paths"]) >= 25


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_answers_match_the_schema(case: Any, owner_token: str,
                                             wsgi_app: Any) -> None:
    case.operation.schema.app = wsgi_app
    case.call_and_validate(headers={"Host": HOST, "Authorization": f"Bearer {owner_token}"},
                           checks=CHECKS, app=wsgi_app)
