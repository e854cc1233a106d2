"""Per-tenant backup and restore: a restored tenant answers exactly as the original did.

One committed source tenant per module (counts written through the real ledger, people, a
token, audit events); archives are made at the current schema and at an older one (counting
migrated back a step), restored as new tenants, and compared through the API and the audit
trail. The tenants are dropped at the end.
"""

from __future__ import annotations

import random
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api import factories
from tests.conftest import PASSWORD


def _older() -> tuple[str, str]:
    """The older schema an archive is made at: counting one migration before its latest (one
    step, so that the test does not depend on every later migration being reversible)."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    (leaf,) = graph.leaf_nodes("counting")
    parents = [parent.key for parent in graph.node_map[leaf].parents
               if parent.key[0] == "counting"]
    return parents[0]
START = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # across Paris's spring-forward night


@dataclass
class Restored:
    """The source tenant, its archives and the tenants restored from them."""

    source: Any
    camera_id: int
    line_ids: list[int]
    zone_id: int
    owner_email: str
    archive: Path
    older_archive: Path
    current: Any  # restored from ``archive``
    older: Any  # restored from ``older_archive``
    older_migrated: list[str]
    tmp: Path
    source_audit: list[tuple[Any, ...]]  # the source's trail when the archives were made


def _fill(tenant: Any, owner_email: str) -> tuple[int, list[int], int]:
    from django_tenants.utils import tenant_context

    from counting.leases import lease_acquire, lease_unlock
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write
    from tenants.accounts.tokens import token_create

    rng = random.Random(18)
    with tenant_context(tenant):
        from django.contrib.auth import get_user_model

        owner = get_user_model().objects.get(username=owner_email)
        site = factories.SiteFactory(timezone="Europe/Paris")
        camera = factories.CameraFactory(site=site)
        lines = [factories.LineFactory(camera=camera), factories.LineFactory(camera=camera)]
        zone = factories.ZoneFactory(camera=camera)
        factories.OccupancyFactory(zone=zone, minute=START + timedelta(minutes=5))
        factories.UserFactory(username="viewer@restore.test", role="Viewer")
        token_create(actor=owner, user=owner, name="restore token")
        lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
        assert lease is not None
        try:
            for seq in (1, 2, 3):
                events = tuple(
                    LedgerEvent(line_id=rng.choice(lines).pk, direction=rng.choice(["in", "out"]),
                                track_id=seq * 1000 + i, frame_index=seq * 1000 + i,
                                occurred_at=START + timedelta(seconds=rng.uniform(0, 6 * 3600)))
                    for i in range(200))
                ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation,
                                         seq=seq, events=events))
        finally:
            lease_unlock(camera_id=camera.pk)
        return camera.pk, [line.pk for line in lines], zone.pk


@pytest.fixture(scope="module")
def restored(django_db_setup: Any, django_db_blocker: Any,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restored]:
    from django.core.management import call_command

    from tenants.db import connection
    from tenants.platform.backup import tenant_backup, tenant_restore
    from tenants.platform.services import tenant_create, tenant_delete

    tmp = tmp_path_factory.mktemp("backups")
    slug = f"bk_{uuid.uuid4().hex[:8]}"
    host = slug.replace("_", "-")
    email = f"owner@{host}.test"
    made: list[str] = []
    with django_db_blocker.unblock():
        try:
            source = tenant_create(name="Backed up", slug=slug, domain=f"{host}.localhost",
                                   owner_email=email, owner_password=PASSWORD).tenant
            made.append(slug)
            camera_id, line_ids, zone_id = _fill(source, email)
            connection.set_schema_to_public()
            # An archive of the schema one counting migration back, then the current one.
            call_command("migrate_schemas", *_older(), schema_name=slug, interactive=False,
                         verbosity=0)
            older_archive = tenant_backup(slug=slug, path=tmp / "older.tenant.tar").path
            call_command("migrate_schemas", schema_name=slug, interactive=False, verbosity=0)
            archive = tenant_backup(slug=slug, path=tmp / "current.tenant.tar").path
            source_audit = _audit(source)
            current = tenant_restore(path=archive, slug=f"{slug}_r",
                                     domain=f"{host}-r.localhost")
            made.append(f"{slug}_r")
            older = tenant_restore(path=older_archive, slug=f"{slug}_o",
                                   domain=f"{host}-o.localhost")
            made.append(f"{slug}_o")
            yield Restored(source=source, camera_id=camera_id, line_ids=line_ids,
                           zone_id=zone_id, owner_email=email, archive=archive,
                           older_archive=older_archive, current=current.tenant,
                           older=older.tenant, older_migrated=older.migrated, tmp=tmp,
                           source_audit=source_audit)
        finally:
            connection.set_schema_to_public()
            for made_slug in made:
                tenant_delete(slug=made_slug)


def _client(tenant: Any, email: str) -> APIClient:
    from django.contrib.auth import get_user_model
    from django_tenants.utils import tenant_context

    from tenants.models import Domain

    client = APIClient(HTTP_HOST=Domain.objects.get(tenant=tenant, is_primary=True).domain)
    with tenant_context(tenant):
        client.force_login(get_user_model().objects.get(username=email))
    return client


def _counts(tenant: Any, r: Restored) -> list[Any]:
    client = _client(tenant, r.owner_email)
    bodies = []
    for bucket, since, until in (("hour", "2026-03-28T00:00:00", "2026-03-30T00:00:00"),
                                 ("minute", "2026-03-29T01:00:00", "2026-03-29T04:00:00"),
                                 ("day", "2026-03-27T00:00:00", "2026-03-31T00:00:00")):
        for params in ({"camera": r.camera_id}, {"line": r.line_ids[0]}):
            response = client.get("/api/v1/counts/", {**params, "from": since, "to": until,
                                                       "bucket": bucket})
            assert response.status_code == 200, response.content
            bodies.append(response.json())
    occupancy = client.get("/api/v1/occupancy/", {"zone": r.zone_id,
                                                  "from": "2026-03-28T00:00:00",
                                                  "to": "2026-03-30T00:00:00",
                                                  "bucket": "hour"})
    assert occupancy.status_code == 200, occupancy.content
    bodies.append(occupancy.json())
    return bodies


def _audit(tenant: Any) -> list[tuple[Any, ...]]:
    from django_tenants.utils import tenant_context

    from audit.models import AuditEvent

    with tenant_context(tenant):
        return list(AuditEvent.objects.order_by("seq").values_list(
            "seq", "hash", "prev_hash", "content_hash", "action", "target_id", "after",
            "occurred_at"))


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["current", "older"])
def test_restored_tenant_answers_counts_and_audit_like_the_original(restored: Restored,
                                                                     which: str) -> None:
    from audit.verify import audit_verify_schema
    from tenants.platform.backup import tenant_schema_rows

    # given a tenant restored from an archive (of the current schema, or of an older one)
    copy = getattr(restored, which)

    # when its audit trail is read, and both are asked for their counts and occupancy
    trail = _audit(copy)
    original, answered = _counts(restored.source, restored), _counts(copy, restored)

    # then the API answers are identical, with every crossing in them
    assert answered == original
    for hours_or_days in (original[0]["total"], original[4]["total"]):
        assert hours_or_days["count_in"] + hours_or_days["count_out"] == 600
    # and the audit trail is the same chain (same sequence, hashes and content), intact
    assert trail == restored.source_audit
    report = audit_verify_schema(schema=copy.schema_name)
    assert report.ok, report.problem
    assert report.events >= len(trail) > 0  # the logins above were appended to the same chain
    # and every table holds the same number of rows
    assert tenant_schema_rows(slug=copy.slug) == tenant_schema_rows(slug=restored.source.slug)


@pytest.mark.django_db
def test_an_archive_of_an_older_schema_is_migrated_after_the_copy(restored: Restored) -> None:
    from django.db.migrations.recorder import MigrationRecorder
    from django_tenants.utils import tenant_context

    # given the archive made with counting one migration back (restored by the fixture)
    # then the migrations after it were applied to the restored rows, up to the latest
    assert restored.older_migrated, "nothing was migrated after the older archive's copy"
    from django.db.migrations.loader import MigrationLoader

    (leaf,) = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("counting")
    assert restored.older_migrated == [f"counting.{leaf[1]}"]
    with tenant_context(restored.older):
        older = set(MigrationRecorder.Migration.objects.values_list("app", "name"))
    with tenant_context(restored.source):
        latest = set(MigrationRecorder.Migration.objects.values_list("app", "name"))
    assert older == latest


@pytest.mark.django_db
def test_a_damaged_archive_is_refused_and_nothing_is_made(restored: Restored) -> None:
    from django.core.exceptions import ValidationError
    from django_tenants.utils import schema_exists

    from tenants.models import Tenant
    from tenants.platform.backup import tenant_restore

    # given a copy of the archive whose ledger table has one byte changed
    damaged = restored.tmp / "damaged.tenant.tar"
    with tarfile.open(restored.archive) as source, tarfile.open(damaged, "w") as target:
        for member in source.getmembers():
            body = source.extractfile(member)
            assert body is not None
            data = bytearray(body.read())
            if member.name == "tables/counting_countevent.copy.gz":
                data[len(data) // 2] ^= 0x01
            member.size = len(data)
            target.addfile(member, __import__("io").BytesIO(bytes(data)))

    # when it is restored
    with pytest.raises(ValidationError) as refused:
        tenant_restore(path=damaged, slug="bk_damaged", domain="bk-damaged.localhost")

    # then the restore says which table is damaged, and no tenant or schema was made
    assert "counting_countevent does not match its checksum" in str(refused.value)
    assert not Tenant.objects.filter(slug="bk_damaged").exists()
    assert not schema_exists("bk_damaged")


@pytest.mark.django_db
def test_a_restore_onto_a_taken_slug_or_domain_is_refused(restored: Restored) -> None:
    from django.core.exceptions import ValidationError

    from tenants.models import Tenant
    from tenants.platform.backup import tenant_restore

    # when the archive is restored onto the source's slug, or with the source's domains
    with pytest.raises(ValidationError) as slug_taken:
        tenant_restore(path=restored.archive, slug=restored.source.slug, domain="free.localhost")
    with pytest.raises(ValidationError) as domain_taken:
        tenant_restore(path=restored.archive, slug="bk_fresh")

    # then both say what to do, and nothing was made
    assert "is taken" in str(slug_taken.value)
    assert "pass --domain" in str(domain_taken.value)
    assert not Tenant.objects.filter(slug__in=["bk_fresh"]).exists()
