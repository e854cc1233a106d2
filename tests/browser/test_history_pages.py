"""The history page in Chromium: the chart's and the CSV's numbers equal /api/v1/counts/ for
the same range, across the autumn daylight-saving change; screenshots at two widths."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import tenant_context

from tests.browser.portal_b_stack import console_errors, login, shoot, throwaway_tenant

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def history_stack(server_port: int, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    from tests.api import factories
    from tests.api.test_counts import _ledger

    with throwaway_tenant(django_db_blocker) as stack, django_db_blocker.unblock(), \
            pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        tenant = stack["tenant"]
        with tenant_context(tenant):
            site = factories.SiteFactory(name="Rive Gauche store", timezone="Europe/Paris")
            camera = factories.CameraFactory(site=site, name="Main entrance")
            lines = [factories.LineFactory(camera=camera, name="Doors"),
                     factories.LineFactory(camera=camera, name="Side gate")]
        _ledger(tenant_context, tenant, camera, lines,
                datetime(2026, 10, 24, tzinfo=PARIS).astimezone(UTC), 73, 1200, seed=21)
        yield {**stack, "site": site, "camera": camera, "lines": lines,
               "base": f"http://{stack['domain']}:{server_port}"}


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_chart_and_csv_equal_the_api_on_a_25_hour_day(history_stack: Any, page: Any,
                                                      bucket: str, tmp_path: Any) -> None:
    errors = console_errors(page)
    base, camera = history_stack["base"], history_stack["camera"]
    login(page, base, history_stack["owner_email"])
    page.goto(f"{base}/history/?series=camera:{camera.pk}&range=custom&start=2026-10-24"
              f"&end=2026-10-26&bucket={bucket}")
    page.wait_for_function("window.historyChart !== undefined")
    chart_labels = page.evaluate("historyChart.data.labels")
    chart_in = page.evaluate("historyChart.data.datasets[0].data")
    # the API read by the same browser session
    body = page.evaluate(
        "url => fetch(url, {credentials: 'same-origin'}).then(r => r.json())",
        f"/api/v1/counts/?camera={camera.pk}&from=2026-10-24T00:00:00"
        f"&to=2026-10-27T00:00:00&bucket={bucket}")
    assert chart_in == [p["count_in"] for p in body["results"]]
    assert len(chart_labels) == (24 + 25 + 24 if bucket == "hour" else 3)
    # the CSV the button downloads holds the same numbers
    with page.expect_download() as download:
        page.click("#csv-link")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(r["bucket_start"], int(r["Main entrance in"]), int(r["Main entrance out"]))
            for r in rows] == [(p["start"], p["count_in"], p["count_out"])
                               for p in body["results"]]
    assert sum(int(r["Main entrance in"]) + int(r["Main entrance out"]) for r in rows) == 1200
    # and the table shows them too, the DST day told apart
    table = page.inner_text("#history-table")
    text = page.inner_text("main")
    assert "Sun 25 Oct 2026 has 25 hours in Europe/Paris" in text
    if bucket == "day":
        assert "Sun 25 Oct 2026 (25 h)" in table
    else:
        assert "Sun 25 Oct 02:00 (UTC+02:00)" in table and "Sun 25 Oct 02:00 (UTC+01:00)" in table
    total_in = body["total"]["count_in"]
    # numbers are formatted in the browser's locale (en-US here)
    assert f"{total_in:,}" in page.inner_text(".kpis")
    shoot(page, f"history-{bucket}")
    assert errors == []


def test_compare_lines_by_week_and_the_form_by_keyboard(history_stack: Any, page: Any) -> None:
    errors = console_errors(page)
    base = history_stack["base"]
    doors, gate = history_stack["lines"]
    login(page, base, history_stack["owner_email"])
    page.goto(f"{base}/history/")
    # the default: last 7 days of the first site, per day
    page.wait_for_selector("#history-table")
    assert page.locator("#history-table tbody tr").count() == 7
    page.select_option("#id_series", [f"line:{doors.pk}", f"line:{gate.pk}"])
    page.select_option("#id_range", "custom")
    page.fill("#id_start", "2026-10-19")
    page.fill("#id_end", "2026-11-01")
    page.select_option("#id_bucket", "week")
    page.check("#id_compare")
    page.focus("#history-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_function("window.historyChart && historyChart.data.datasets.length === 4")
    datasets = page.evaluate("historyChart.data.datasets.map(d => [d.label, d.borderDash.length])")
    assert datasets == [["Main entrance · Doors – in", 0],
                        ["Main entrance · Doors – in, previous period", 2],
                        ["Main entrance · Side gate – in", 0],
                        ["Main entrance · Side gate – in, previous period", 2]]
    assert "Compared with Mon 5 Oct 2026 – Sun 18 Oct 2026." in page.inner_text("main")
    assert page.locator("#history-table tbody tr").count() == 2
    shoot(page, "history-compare-weeks")
    assert errors == []
