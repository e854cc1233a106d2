"""A task sent from a tenant runs in that tenant's schema; one without a tenant refuses."""

from __future__ import annotations

from typing import Any

import pytest

from cameras.tasks import tenant_ping
from tests.celery_worker import celery_worker


@pytest.fixture(scope="module")
def worker(django_db_setup: Any, django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock(), celery_worker() as (queue, process):
        yield queue


def test_a_task_sent_from_a_tenant_request_runs_in_that_tenant(
        worker: str, tenant_a: Any, client_for: Any, owner_of: Any, in_tenant: Any) -> None:
    # given a request on tenant A's domain that sends a task (the view does what any view does)
    from django.test import RequestFactory
    from django_tenants.middleware.main import TenantMainMiddleware

    sent: dict[str, Any] = {}

    def view(request: Any) -> Any:
        from django.http import HttpResponse

        sent["result"] = tenant_ping.apply_async(queue=worker)
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_HOST="tenant-a.localhost")
    TenantMainMiddleware(view)(request)
    # then the worker ran it in tenant A's schema
    assert sent["result"].get(timeout=60)["schema"] == "tenant_a"


def test_a_task_from_tenant_b_runs_in_b(worker: str, tenant_b: Any, in_tenant: Any) -> None:
    with in_tenant(tenant_b):
        result = tenant_ping.apply_async(queue=worker)
    assert result.get(timeout=60) == {"schema": "tenant_b", "cameras": 0}


def test_a_task_without_tenant_refuses_to_run(worker: str, db: Any) -> None:
    # given a task sent from the public schema (no tenant)
    result = tenant_ping.apply_async(queue=worker)
    # then it fails with a clear error and never touched a tenant
    with pytest.raises(Exception, match="without a tenant schema") as excinfo:
        result.get(timeout=60)
    assert type(excinfo.value).__name__ == "MissingTenantError"


def test_a_task_with_a_forged_header_for_public_refuses(worker: str, db: Any) -> None:
    result = tenant_ping.apply_async(queue=worker, headers={"_schema_name": "public"})
    with pytest.raises(Exception, match="without a tenant schema"):
        result.get(timeout=60)
