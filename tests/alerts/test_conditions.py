"""What rules measure, on the clock of the site: footfall periods on open days, completeness
of a period, schedules with opening hours. Evaluated in-process (no delivery needed)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 3, 2, tzinfo=PARIS)  # a Monday (UTC+1)


def at(day: datetime, hhmm: str, seconds: int = 0) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return day.replace(hour=hour, minute=minute, second=seconds)


@pytest.fixture
def place(tenant_a: Any, in_tenant: Any) -> Any:
    from cameras.services import camera_create, site_create
    from counting.services import counting_line_create, zone_create

    with in_tenant(tenant_a):
        site = site_create(actor=None, name="Boutique", timezone="Europe/Paris",
                           opening_hours={"mon": [["09:00", "18:00"]]})
        camera = camera_create(actor=None, site=site, name="Door cam",
                               stream_url="rtsp://10.0.0.9/")
        line = counting_line_create(actor=None, camera=camera, name="Door", x1=0.5, y1=0,
                                    x2=0.5, y2=1)
        zone = zone_create(actor=None, camera=camera, name="Shop", capacity=10,
                           points=[[0, 0], [1, 0], [1, 1]])
        yield {"site": site, "camera": camera, "line": line, "zone": zone}


def _entries(place: Any, when: datetime, count: int) -> None:
    from counting.models import LineMinuteRollup

    LineMinuteRollup.objects.create(line=place["line"], camera=place["camera"],
                                    minute=when.replace(second=0), count_in=count)


def _alerts(rule: Any) -> list[tuple[str, float | None]]:
    from analytics.alerts.models import Alert

    return list(Alert.objects.filter(rule=rule).order_by("id").values_list("state", "value"))


def test_fewer_than_5_entries_between_10_and_11_on_open_days(place: Any, tenant_a: Any,
                                                              in_tenant: Any) -> None:
    from analytics.alerts.services import alert_rule_create
    from analytics.alerts.triggers import on_sweep

    with in_tenant(tenant_a):
        # given "fewer than 5 entries between 10:00 and 11:00, Monday to Friday"
        rule = alert_rule_create(actor=None, name="Quiet morning", kind="footfall_below",
                                 scope="line", line=place["line"], threshold=5,
                                 period_start=time(10), period_end=time(11),
                                 weekdays=[0, 1, 2, 3, 4])
        _entries(place, at(MONDAY, "10:15"), 3)
        _entries(place, at(MONDAY, "11:05"), 9)  # after the period: not counted
        # when the period is still running, nothing is known yet
        on_sweep(now=at(MONDAY, "10:40"))
        assert _alerts(rule) == []
        # when it has ended with 3 entries, the alert opens with the count
        on_sweep(now=at(MONDAY, "11:00", 20))
        on_sweep(now=at(MONDAY, "16:00"))
        assert _alerts(rule) == [("open", 3.0)]
        # and it resolves at the end of the site's day
        on_sweep(now=at(MONDAY + timedelta(days=1), "00:00", 30))
        assert _alerts(rule) == [("resolved", 3.0)]
        # a Saturday is not an open day: nothing opens
        saturday = MONDAY + timedelta(days=5)
        on_sweep(now=at(saturday, "11:30"))
        assert len(_alerts(rule)) == 1


def test_more_than_2_entries_in_the_period_fires_on_the_batch_and_ends_with_the_period(
        place: Any, tenant_a: Any, in_tenant: Any) -> None:
    from analytics.alerts.services import alert_rule_create
    from analytics.alerts.triggers import on_batch, on_sweep

    with in_tenant(tenant_a):
        rule = alert_rule_create(actor=None, name="Rush", kind="footfall_above", scope="camera",
                                 camera=place["camera"], threshold=2, period_start=time(10),
                                 period_end=time(11))
        _entries(place, at(MONDAY, "10:05"), 2)
        on_batch(camera_id=place["camera"].pk, occupancy={}, now=at(MONDAY, "10:06"))
        assert _alerts(rule) == []
        _entries(place, at(MONDAY, "10:20"), 1)
        on_batch(camera_id=place["camera"].pk, occupancy={}, now=at(MONDAY, "10:20", 30))
        assert _alerts(rule) == [("open", 3.0)]
        on_sweep(now=at(MONDAY, "11:00", 10))
        assert _alerts(rule) == [("resolved", 3.0)]


def test_a_period_analysed_two_thirds_of_the_time_is_incomplete(place: Any, tenant_a: Any,
                                                                in_tenant: Any) -> None:
    from analytics.alerts.services import alert_rule_create
    from analytics.alerts.triggers import on_sweep
    from counting.models import CameraHealthEvent

    with in_tenant(tenant_a):
        rule = alert_rule_create(actor=None, name="Gaps", kind="data_incomplete",
                                 scope="site", site=place["site"], threshold=95,
                                 period_start=time(10), period_end=time(11))
        # given online from 09:00, offline 10:20-10:40 (20 min of 60)
        for hhmm, state in (("09:00", "online"), ("10:20", "offline"), ("10:40", "online")):
            CameraHealthEvent.objects.create(camera=place["camera"], state=state,
                                             occurred_at=at(MONDAY, hhmm))
        on_sweep(now=at(MONDAY, "11:01"))
        [(state, value)] = _alerts(rule)
        assert (state, value) == ("open", 66.7)


def test_outside_opening_hours_an_occupancy_condition_does_not_hold(place: Any, tenant_a: Any,
                                                                    in_tenant: Any) -> None:
    from analytics.alerts.services import alert_rule_create
    from analytics.alerts.triggers import on_batch

    with in_tenant(tenant_a):
        rule = alert_rule_create(actor=None, name="Full", kind="occupancy_above", scope="zone",
                                 zone=place["zone"], schedule="opening_hours", duration_s=60)
        zone, camera = place["zone"].pk, place["camera"].pk
        # held above capacity (10) for a minute during opening hours: opens
        on_batch(camera_id=camera, occupancy={zone: 12.0}, now=at(MONDAY, "17:58"))
        on_batch(camera_id=camera, occupancy={zone: 12.0}, now=at(MONDAY, "17:58", 30))
        assert _alerts(rule) == []
        on_batch(camera_id=camera, occupancy={zone: 14.0}, now=at(MONDAY, "17:59", 1))
        assert [s for s, _ in _alerts(rule)] == ["open"]
        # the shop closes at 18:00: the condition no longer holds and the alert resolves
        on_batch(camera_id=camera, occupancy={zone: 14.0}, now=at(MONDAY, "18:00", 5))
        assert [s for s, _ in _alerts(rule)] == ["resolved"]
        from analytics.alerts.models import Alert

        alert = Alert.objects.get(rule=rule)
        assert (alert.peak_value, alert.resolution) == (14.0, "outside the rule's schedule")
