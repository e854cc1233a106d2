"""Zones that ignore detections (masks): through the API, into the engine, out of live totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from counting.models import Zone
from counting.runner.rule_specs import engine_rules

SIGN = [[0.0, 0.15], [0.1, 0.15], [0.1, 0.3], [0.0, 0.3]]


def test_a_mask_is_a_zone_that_ignores_detections(world_a: Any, api_client: Any,
                                                  in_tenant: Any) -> None:
    client = api_client("a", world_a.owner)
    # given a zone posted with ignore_detections, and one without the field
    mask = client.post("/api/v1/zones/", {"camera": world_a.camera.pk, "name": "Sign",
                                          "points": SIGN, "ignore_detections": True},
                       format="json")
    plain = client.post("/api/v1/zones/", {"camera": world_a.camera.pk, "name": "Hall",
                                           "points": [[0.2, 0.2], [0.8, 0.2], [0.5, 0.9]]},
                        format="json")
    # then both are created, the second one counting (the default)
    assert mask.status_code == 201, mask.content
    assert plain.status_code == 201, plain.content
    assert mask.json()["ignore_detections"] is True
    assert plain.json()["ignore_detections"] is False
    # and the engine gets the first as a mask and the second as a zone
    with in_tenant(world_a.tenant):
        zones = list(Zone.objects.filter(pk__in=[mask.json()["id"], plain.json()["id"]])
                     .order_by("name"))
        _, counted, masks = engine_rules([], zones)
        from counting.selectors import day_totals

        totals = day_totals(camera_ids=[world_a.camera.pk], site_tz="UTC",
                            day=datetime.now(tz=UTC).date())
    assert [m.key for m in masks] == [str(mask.json()["id"])]
    assert masks[0].points == tuple(tuple(p) for p in SIGN)
    assert [z.key for z in counted] == [str(plain.json()["id"])]
    # and the live totals list the counting zone only
    assert plain.json()["id"] in totals[world_a.camera.pk]["zones"]
    assert mask.json()["id"] not in totals[world_a.camera.pk]["zones"]


def test_turning_a_zone_into_a_mask_is_a_versioned_change(world_a: Any,
                                                          api_client: Any) -> None:
    client = api_client("a", world_a.owner)
    zone = client.post("/api/v1/zones/", {"camera": world_a.camera.pk, "name": "Sign",
                                          "points": SIGN}, format="json").json()
    changed = client.patch(f"/api/v1/zones/{zone['id']}/", {"ignore_detections": True},
                           format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["ignore_detections"] is True
    assert changed.json()["version"] == zone["version"] + 1
