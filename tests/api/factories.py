"""factory_boy factories of API test data (exposed as fixtures in conftest.py)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cameras.models import Camera, Site
from counting.models import (
    CountEvent,
    CountingLine,
    LineMinuteRollup,
    Zone,
    ZoneMinuteOccupancy,
)
from tests.conftest import PASSWORD


class UserFactory(factory.django.DjangoModelFactory):
    """A user of the current tenant with one role (Owner, Manager or Viewer)."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.test")
    email = factory.SelfAttribute("username")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: Any) -> None:
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
            self.is_staff = extracted in ("Owner", "Manager")
        self.save()


class SiteFactory(factory.django.DjangoModelFactory):
    """A site."""

    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Site {n}")
    timezone = "Europe/Paris"


class CameraFactory(factory.django.DjangoModelFactory):
    """A camera on a private address (allowed by the default URL policy)."""

    class Meta:
        model = Camera

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Camera {n}")
    stream_url = "rtsp://10.0.0.1/stream1"


class LineFactory(factory.django.DjangoModelFactory):
    """A horizontal counting line across the middle of the image."""

    class Meta:
        model = CountingLine

    camera = factory.SubFactory(CameraFactory)
    name = factory.Sequence(lambda n: f"Line {n}")
    x1, y1, x2, y2 = 0.1, 0.5, 0.9, 0.5


class ZoneFactory(factory.django.DjangoModelFactory):
    """A square zone."""

    class Meta:
        model = Zone

    camera = factory.SubFactory(CameraFactory)
    name = factory.Sequence(lambda n: f"Zone {n}")
    points = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]


class CountEventFactory(factory.django.DjangoModelFactory):
    """One crossing in the ledger."""

    class Meta:
        model = CountEvent

    line = factory.SubFactory(LineFactory)
    camera = factory.SelfAttribute("line.camera")
    direction = "in"
    track_id = factory.Sequence(lambda n: n)
    occurred_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    frame_index = factory.Sequence(lambda n: n)
    lease_generation = 1
    idempotency_key = factory.LazyAttribute(lambda o: hashlib.sha256(
        f"{o.line.pk}:{o.track_id}:{o.direction}:{o.occurred_at.isoformat()}".encode()
    ).hexdigest())


class RollupFactory(factory.django.DjangoModelFactory):
    """A minute rollup of a line."""

    class Meta:
        model = LineMinuteRollup

    line = factory.SubFactory(LineFactory)
    camera = factory.SelfAttribute("line.camera")
    minute = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class OccupancyFactory(factory.django.DjangoModelFactory):
    """A minute of zone occupancy."""

    class Meta:
        model = ZoneMinuteOccupancy

    zone = factory.SubFactory(ZoneFactory)
    camera = factory.SelfAttribute("zone.camera")
    minute = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    samples = 60
    occupancy_sum = 120.0
    max_occupancy = 3
