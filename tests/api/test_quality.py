"""Data quality: every bucket says how much of it was analysed, in the API and chart data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.api import factories

HOUR = datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_camera_offline_five_minutes_marks_its_hour_partial(
        tenant_a: Any, in_tenant: Any, owner_of: Any, api_client: Any) -> None:
    from analytics.history.report import history_report
    from analytics.history.scopes import scope_resolve
    from counting.health import health_gap_open
    from counting.models import Camera

    # given a camera installed long before, offline from 10:20 to 10:25 UTC
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="UTC")
        camera = factories.CameraFactory(site=site, name="Door cam")
        Camera.objects.filter(pk=camera.pk).update(created_at=HOUR - timedelta(days=30))
        line = factories.LineFactory(camera=camera)
        health_gap_open(camera_id=camera.pk, started_at=HOUR + timedelta(minutes=20),
                        ended_at=HOUR + timedelta(minutes=25), cause="source",
                        reason="connection refused")
        owner = owner_of("a")

    # when the counts of that morning are read per hour
    body = api_client("a", owner).get("/api/v1/counts/", {
        "camera": camera.pk, "from": "2026-03-02T08:00:00", "to": "2026-03-02T12:00:00",
        "bucket": "hour"}).json()

    # then 10:00-11:00 is partial, 55 of its 60 minutes analysed, and says why
    quality = [(p["quality"], p["coverage"]) for p in body["results"]]
    assert quality == [("complete", 1.0), ("complete", 1.0), ("partial", 0.9167),
                       ("complete", 1.0)]
    assert body["results"][2]["quality_notes"] == [
        "Door cam: not analysed (source) for 5 min"]

    # and the history page's chart data marks the same hour
    with in_tenant(tenant_a):
        scope = scope_resolve(user=owner, key=f"line:{line.pk}")
        assert scope is not None
        report = history_report(scopes=[scope], range_name="custom", start=date(2026, 3, 2),
                                end=date(2026, 3, 2), bucket="hour", compare=False)
    dataset = report.chart()["datasets"][0]
    assert dataset["quality"][8:12] == ["complete", "complete", "partial", "complete"]
    assert dataset["coverage"][10] == 0.9167
    assert dataset["quality_notes"][10] == ["Door cam: not analysed (source) for 5 min"]


def test_lost_crossings_changes_and_missing_time_are_flagged(
        tenant_a: Any, in_tenant: Any, owner_of: Any) -> None:
    from analytics.quality import bucket_quality
    from counting.health import health_gap_open
    from counting.models import Camera, CameraHealthEvent
    from counting.services import counting_line_update

    # given a camera whose runner lost 3 crossings two hours ago, whose line is moved now (the
    # audit trail's time) and that is offline from the next hour for 90 minutes
    now = datetime.now(tz=UTC)
    base = now.replace(minute=0, second=0, microsecond=0)
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone="UTC"))
        Camera.objects.filter(pk=camera.pk).update(created_at=base - timedelta(days=1))
        line = factories.LineFactory(camera=camera, name="door")
        owner = owner_of("a")
        CameraHealthEvent.objects.create(camera=camera, occurred_at=base - timedelta(
            hours=2, minutes=-10), state="running", details={"events_lost": 3})
        counting_line_update(actor=owner, line=line, y1=0.6)
        health_gap_open(camera_id=camera.pk, started_at=base + timedelta(hours=1),
                        ended_at=base + timedelta(hours=2, minutes=30), cause="runner",
                        reason="runner died")
        bounds = [(base + timedelta(hours=h), base + timedelta(hours=h + 1))
                  for h in range(-2, 3)]

        # when the hours are judged (as seen six hours later)
        result = bucket_quality(camera_ids=[camera.pk], bounds=bounds, line_ids=[line.pk],
                                now=base + timedelta(hours=6))

    # then each trouble marks its own hour
    assert [q.quality for q in result] == ["partial", "complete", "partial", "missing",
                                           "partial"]
    assert result[0].coverage == 1.0
    assert result[0].notes == (f"{camera.name}: 3 crossings lost (runner buffer full)",)
    assert result[2].coverage == 1.0
    assert result[2].notes == (f"line 'door' changed at {now:%H:%M} UTC",)
    assert result[3].coverage == 0.0 and result[4].coverage == 0.5
    assert result[4].notes == (f"{camera.name}: not analysed (runner) for 30 min",)


def test_future_and_uninstalled_time_is_missing(tenant_a: Any, in_tenant: Any, owner_of: Any,
                                                api_client: Any) -> None:
    from counting.models import Camera

    # given a camera installed three days ago at noon
    today = datetime.now(tz=UTC).date()
    installed = datetime(today.year, today.month, today.day, 12, tzinfo=UTC) - timedelta(days=3)
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone="UTC"))
        Camera.objects.filter(pk=camera.pk).update(created_at=installed)
        owner = owner_of("a")

    # when last week to tomorrow is read per day
    body = api_client("a", owner).get("/api/v1/counts/", {
        "camera": camera.pk, "from": (today - timedelta(days=7)).isoformat(),
        "to": (today + timedelta(days=2)).isoformat(), "bucket": "day"}).json()

    # then days before the installation are missing, its day is half analysed, the next ones
    # complete, today in progress and tomorrow missing
    results = body["results"]
    assert [p["quality"] for p in results] == (["missing"] * 4 + ["partial", "complete",
                                               "complete", "partial", "missing"])
    assert results[4]["coverage"] == 0.5
    assert results[4]["quality_notes"] == [f"{camera.name}: not installed yet for 12.0 h"]
    assert results[7]["quality_notes"] == ["in progress"]
    assert results[8]["quality_notes"] == ["in the future"]


def test_overload_gap_loses_only_the_share_not_analysed(tenant_a: Any, in_tenant: Any) -> None:
    from analytics.quality import bucket_quality
    from counting.models import Camera, CameraGap

    # given a camera that analysed 75 % of its frames for 20 minutes of an hour
    with in_tenant(tenant_a):
        camera = factories.CameraFactory(site=factories.SiteFactory(timezone="UTC"))
        Camera.objects.filter(pk=camera.pk).update(created_at=HOUR - timedelta(days=1))
        CameraGap.objects.create(camera=camera, started_at=HOUR, cause="overload",
                                 ended_at=HOUR + timedelta(minutes=20), analysed_share=0.75)
        # when the hour is judged
        [quality] = bucket_quality(camera_ids=[camera.pk], bounds=[(HOUR, HOUR + timedelta(
            hours=1))])
    # then a quarter of those 20 minutes is lost: 5 of 60 minutes
    assert (quality.quality, quality.coverage) == ("partial", 0.9167)
    assert quality.notes == (
        f"{camera.name}: analysed 75 % of frames due (overload) for 20 min",)
