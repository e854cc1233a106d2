"""Helpers of the portal's server tests: users of each role, sites, cameras and counted events
written through the real ledger (so the rollups the pages read are the real ones)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

_seq = itertools.count(1)


@pytest.fixture
def make_user() -> Callable[..., Any]:
    """``make_user(role, email)`` in the current tenant: a user in the Owner, Manager or
    Viewer group."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    def make(role: str, email: str | None = None) -> Any:
        email = email or f"{role.lower()}{next(_seq)}@portal.test"
        user = get_user_model().objects.create_user(username=email, email=email,
                                                    password="Correct-Horse-Battery-9")
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def record_crossings() -> Callable[..., None]:
    """``record_crossings(line, [(at, "in"), ...])`` commits the crossings through the ledger
    under a fresh lease of the line's camera."""
    from counting.leases import lease_acquire, lease_release
    from counting.ledger import LedgerBatch, LedgerEvent, ledger_write

    def record(line: Any, crossings: list[tuple[datetime, str]]) -> None:
        lease = lease_acquire(camera_id=line.camera_id, owner="portal-test", ttl_s=60)
        assert lease is not None
        events = tuple(LedgerEvent(line_id=line.pk, direction=direction,
                                   track_id=next(_seq), occurred_at=at, frame_index=index)
                       for index, (at, direction) in enumerate(crossings))
        ledger_write(LedgerBatch(camera_id=line.camera_id, generation=lease.generation,
                                 seq=1, events=events))
        lease_release(camera_id=line.camera_id, owner="portal-test",
                      generation=lease.generation)

    return record


@pytest.fixture
def site_with_camera() -> Callable[..., tuple[Any, Any, Any]]:
    """``site_with_camera(name, tz)``: a site, an (disabled) camera and one line across it."""
    from cameras.services import camera_create, site_create
    from counting.services import counting_line_create

    def make(name: str = "Main store", tz: str = "UTC",
             camera_name: str = "Entrance cam") -> tuple[Any, Any, Any]:
        site = site_create(actor=None, name=name, timezone=tz)
        camera = camera_create(actor=None, site=site, name=camera_name,
                               stream_url="rtsp://10.0.0.1/stream", enabled=False)
        line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0,
                                    x2=0.5, y2=1, in_label="entered", out_label="left")
        return site, camera, line

    return make
