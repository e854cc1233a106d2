"""Shared fixtures: a test database on the real PostgreSQL with two tenants made once per session.

Tenant A and tenant B are provisioned through the real service when the test database is set
up; tests switch into them with ``tenant_context``. Tests that need committed data seen by other
processes (workers, servers) create their own tenant with ``committed_tenant`` and drop it after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("SHARED_DIR", REPO_ROOT.parent / "shared"))
PASSWORD = "Correct-Horse-Battery-9"

TENANTS = {
    "a": {"name": "Tenant A", "slug": "tenant_a", "domain": "tenant-a.localhost"},
    "b": {"name": "Tenant B", "slug": "tenant_b", "domain": "tenant-b.localhost"},
}


def owner_email(key: str) -> str:
    return f"owner@{TENANTS[key]['domain']}"


@pytest.fixture(scope="session")
def django_db_setup(request: Any, django_test_environment: Any, django_db_blocker: Any,
                    django_db_keepdb: bool, django_db_modify_db_settings: Any) -> Iterator[None]:
    """Always create the test database, even when no collected test asks for ``db``.

    pytest-django only sets up the databases that marked tests need; tests that talk to the
    database through a server or worker process must never fall through to the real database.
    """
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    from tenants.platform.services import public_tenant_ensure, tenant_create

    with django_db_blocker.unblock():
        db_cfg = setup_databases(verbosity=0, interactive=False, keepdb=django_db_keepdb,
                                 aliases={"default"})
        public_tenant_ensure(domain=settings.PUBLIC_DOMAIN)
        for key, spec in TENANTS.items():
            tenant_create(name=spec["name"], slug=spec["slug"], domain=spec["domain"],
                          owner_email=owner_email(key), owner_password=PASSWORD)
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            from django.db import connection

            connection.set_schema_to_public()
            # Servers and workers started by tests are stopped, but their connections may not
            # have closed yet; the test database cannot be dropped while they are open.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            # DROP DATABASE of hundreds of tenant tables may take longer than the app's
            # statement timeout on a loaded machine: the drop runs without the app's timeouts.
            connection.close()
            options = connection.settings_dict.setdefault("OPTIONS", {})
            options["options"] = ("-c statement_timeout=0 -c lock_timeout=0 "
                                  "-c idle_in_transaction_session_timeout=0")
            teardown_databases(db_cfg, verbosity=0)


def _tenant(slug: str) -> Any:
    from tenants.models import Tenant

    return Tenant.objects.get(slug=slug)


@pytest.fixture
def tenant_a(db: Any) -> Any:
    return _tenant("tenant_a")


@pytest.fixture
def tenant_b(db: Any) -> Any:
    return _tenant("tenant_b")


@pytest.fixture
def in_tenant() -> Iterator[Callable[[Any], Any]]:
    """``with in_tenant(tenant):`` switches the connection and restores public afterwards."""
    from django_tenants.utils import tenant_context

    yield tenant_context


@pytest.fixture
def owner_of() -> Callable[[str], Any]:
    """The owner user of tenant 'a' or 'b' (call inside that tenant's context)."""
    from django.contrib.auth import get_user_model

    def get(key: str) -> Any:
        return get_user_model().objects.get(username=owner_email(key))

    return get


@pytest.fixture
def client_for() -> Callable[[str], Any]:
    """A Django test client whose requests carry the Host of tenant 'a' or 'b'."""
    from django.test import Client

    def make(key: str) -> Client:
        return Client(HTTP_HOST=TENANTS[key]["domain"])

    return make


@pytest.fixture
def committed_tenant(django_db_blocker: Any) -> Iterator[Callable[..., Any]]:
    """Factory of committed tenants (visible to other processes), dropped after the test."""
    from tenants.platform.services import tenant_create, tenant_delete

    made: list[str] = []

    def make(**overrides: Any) -> Any:
        slug = overrides.pop("slug", f"t_{uuid.uuid4().hex[:10]}")
        with django_db_blocker.unblock():
            result = tenant_create(
                name=overrides.pop("name", slug), slug=slug,
                domain=overrides.pop("domain", f"{slug.replace('_', '-')}.localhost"),
                owner_email=overrides.pop("owner_email", f"owner@{slug}.test"),
                owner_password=overrides.pop("owner_password", PASSWORD), **overrides)
        made.append(slug)
        return result

    yield make
    with django_db_blocker.unblock():
        from django.db import connection

        connection.set_schema_to_public()
        for slug in made:
            tenant_delete(slug=slug)


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED_DIR.exists():
        pytest.skip(f"shared data not found at {SHARED_DIR} (set SHARED_DIR to its location)")
    return SHARED_DIR


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """Requests leave the connection on their tenant's schema; each test starts on public."""
    from django.db import connection

    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture
def logged_in(client_for: Callable[[str], Any]) -> Callable[[str, Any], Any]:
    """A client for tenant 'a' or 'b' with ``user`` logged in (the session lives in that schema)."""
    from django_tenants.utils import tenant_context

    def make(key: str, user: Any) -> Any:
        client = client_for(key)
        with tenant_context(_tenant(TENANTS[key]["slug"])):
            client.force_login(user)
        return client

    return make
