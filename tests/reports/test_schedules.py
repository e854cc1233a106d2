"""Report schedules and exports made by a task: every portal form that writes, the API, and
isolation between tenants (an object of tenant A is a 404 from tenant B)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.reports.test_exports import _ledger

PARIS = ZoneInfo("Europe/Paris")


def _audit(in_tenant: Any, tenant: Any, action: str) -> int:
    from audit.models import AuditEvent

    with in_tenant(tenant):
        return AuditEvent.objects.filter(action=action).count()


def _schedules(in_tenant: Any, tenant: Any) -> list[Any]:
    from analytics.reports.models import ReportSchedule

    with in_tenant(tenant):
        return list(ReportSchedule.objects.order_by("pk"))


FORM = {"name": "Morning door report", "frequency": "daily", "send_time": "07:00",
        "weekday": "0", "bucket": "hour", "format": "pdf",
        "recipients": "ana@shop.test, ben@shop.test", "enabled": "on"}


def test_portal_schedule_create_edit_and_delete(world_a: Any, logged_in: Any,
                                                in_tenant: Any) -> None:
    client = logged_in("a", world_a.owner)
    # given the reports page with its link to a new schedule
    page = client.get("/reports/")
    assert page.status_code == 200 and b'id="new-schedule"' in page.content
    assert client.get("/reports/schedules/new/").status_code == 200

    # when the form is sent with a wrong address: refused, said on the field, nothing saved
    wrong = client.post("/reports/schedules/new/", {**FORM, "scope": f"site:{world_a.site.pk}",
                                                    "recipients": "ana@shop.test, not-an-email"})
    assert wrong.status_code == 400 and b"is not an e-mail address" in wrong.content
    assert _schedules(in_tenant, world_a.tenant) == []

    # when it is sent right for the camera: created and audited
    made = client.post("/reports/schedules/new/", {**FORM,
                                                   "scope": f"camera:{world_a.camera.pk}"})
    assert made.status_code == 302 and made["Location"] == "/reports/"
    [schedule] = _schedules(in_tenant, world_a.tenant)
    assert (schedule.scope, schedule.camera_id, schedule.site_id) == (
        "camera", world_a.camera.pk, world_a.site.pk)
    assert schedule.recipients == ["ana@shop.test", "ben@shop.test"]
    assert _audit(in_tenant, world_a.tenant, "report_schedule.create") == 1

    # when it is edited: weekly on Friday at 18:30, for the zone, as XLSX per day
    form = client.get(f"/reports/schedules/{schedule.pk}/")
    assert form.status_code == 200 and b"ana@shop.test" in form.content
    edited = client.post(f"/reports/schedules/{schedule.pk}/", {
        **FORM, "scope": f"zone:{world_a.zone.pk}", "frequency": "weekly", "weekday": "4",
        "send_time": "18:30", "bucket": "day", "format": "xlsx", "recipients": "ana@shop.test"})
    assert edited.status_code == 302
    [schedule] = _schedules(in_tenant, world_a.tenant)
    assert (schedule.scope, schedule.frequency, schedule.weekday, schedule.send_time.isoformat(),
            schedule.format, schedule.recipients) == (
        "zone", "weekly", 4, "18:30:00", "xlsx", ["ana@shop.test"])
    assert _audit(in_tenant, world_a.tenant, "report_schedule.update") == 1

    # when it is deleted: gone and audited
    gone = client.post(f"/reports/schedules/{schedule.pk}/delete/")
    assert gone.status_code == 302
    assert _schedules(in_tenant, world_a.tenant) == []
    assert _audit(in_tenant, world_a.tenant, "report_schedule.delete") == 1


def test_a_viewer_may_not_schedule_and_changes_nothing(world_a: Any, logged_in: Any,
                                                       api_client: Any, in_tenant: Any) -> None:
    client = logged_in("a", world_a.viewer)
    assert client.get("/reports/").status_code == 200
    assert client.get("/reports/schedules/new/").status_code == 403
    refused = client.post("/reports/schedules/new/", {**FORM, "scope": f"site:{world_a.site.pk}"})
    assert refused.status_code == 403
    api = api_client("a", world_a.viewer).post("/api/v1/report-schedules/", {
        "name": "x", "send_time": "07:00", "site": world_a.site.pk,
        "recipients": ["a@b.test"]}, format="json")
    assert api.status_code == 403
    assert _schedules(in_tenant, world_a.tenant) == []


def test_api_schedules_and_isolation(world_a: Any, api_client: Any, in_tenant: Any,
                                     tenant_b: Any, owner_of: Any, logged_in: Any) -> None:
    client = api_client("a", world_a.owner)
    # given a schedule made through the API
    made = client.post("/api/v1/report-schedules/", {
        "name": "Monthly site", "frequency": "monthly", "send_time": "06:00",
        "site": world_a.site.pk, "bucket": "day", "format": "csv",
        "recipients": ["boss@shop.test"]}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["scope"] == "site" and body["next_send_at"].endswith(("+01:00", "+02:00"))
    pk = body["id"]
    # a monthly report per hour is refused with what to do
    wrong = client.patch(f"/api/v1/report-schedules/{pk}/", {"bucket": "hour"}, format="json")
    assert wrong.status_code == 400 and "choose day" in wrong.json()["error"]["message"]
    assert client.patch(f"/api/v1/report-schedules/{pk}/", {"enabled": False},
                        format="json").json()["enabled"] is False

    # then tenant B's Owner gets 404 for it, on the API and in the portal, and changes nothing
    with in_tenant(tenant_b):
        owner_b = owner_of("b")
    other = api_client("b", owner_b)
    assert other.get(f"/api/v1/report-schedules/{pk}/").status_code == 404
    assert other.patch(f"/api/v1/report-schedules/{pk}/", {"name": "mine"},
                       format="json").status_code == 404
    assert other.delete(f"/api/v1/report-schedules/{pk}/").status_code == 404
    portal_b = logged_in("b", owner_b)
    assert portal_b.get(f"/reports/schedules/{pk}/").status_code == 404
    assert portal_b.post(f"/reports/schedules/{pk}/delete/").status_code == 404
    assert len(_schedules(in_tenant, world_a.tenant)) == 1
    assert client.delete(f"/api/v1/report-schedules/{pk}/").status_code == 204


@pytest.fixture
def counted(world_a: Any, in_tenant: Any) -> Any:
    """Crossings on world A's camera over 100 days (a range longer than one hourly answer)."""
    start = datetime(2026, 1, 1, tzinfo=PARIS).astimezone(UTC)
    _ledger(in_tenant, world_a.tenant, world_a.camera, [world_a.line], start, 100 * 24, 600,
            seed=3)
    return world_a


def test_portal_export_of_100_days_per_hour_with_progress_and_signed_link(
        counted: Any, logged_in: Any, api_client: Any, in_tenant: Any, tenant_b: Any,
        owner_of: Any, settings: Any, tmp_path: Any) -> None:
    from analytics.reports.exports import export_run
    from analytics.reports.models import Export

    settings.REPORTS_EXPORT_DIR = tmp_path
    client = logged_in("a", counted.owner)
    # when the Owner asks for 100 days of the line per hour as CSV
    started = client.post("/reports/exports/new/", {
        "scope": f"line:{counted.line.pk}", "start": "2026-01-01", "end": "2026-04-10",
        "bucket": "hour", "format": "csv"})
    assert started.status_code == 302
    with in_tenant(counted.tenant):
        export = Export.objects.get()
    assert started["Location"] == f"/reports/exports/{export.pk}/"
    page = client.get(started["Location"])
    assert b"<progress" in page.content and b'hx-trigger="every 1s"' in page.content
    # and the task runs (here, in this process)
    with in_tenant(counted.tenant):
        assert export_run(export_id=str(export.pk)) == "done"
    api = api_client("a", counted.owner).get(f"/api/v1/exports/{export.pk}/").json()
    # (100 days of 24 hours but 29 March, the spring change, has 23)
    assert (api["status"], api["progress"], api["rows_done"]) == ("done", 100, 100 * 24 - 1)

    # then the progress page links the file, whose rows are the API's, 93 + 7 days
    fragment = client.get(started["Location"], HTTP_HX_REQUEST="true").content.decode()
    link = fragment.split('id="download" href="')[1].split('"')[0]
    assert api["download_url"].endswith(link)
    response = client.get(link)
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    reference = []
    for lower, upper in (("2026-01-01", "2026-04-04"), ("2026-04-04", "2026-04-11")):
        reference += api_client("a", counted.owner).get("/api/v1/counts/", {
            "line": counted.line.pk, "from": f"{lower}T00:00:00", "to": f"{upper}T00:00:00",
            "bucket": "hour"}).json()["results"]
    assert [(r["start"], int(r["count_in"]), int(r["count_out"])) for r in rows] == [
        (p["start"], p["count_in"], p["count_out"]) for p in reference]
    assert sum(int(r["count_in"]) + int(r["count_out"]) for r in rows) == 600

    # and the link works without signing in, but not on tenant B's domain, nor changed
    from django.test import Client

    assert Client(HTTP_HOST="tenant-a.localhost").get(link).status_code == 200
    assert Client(HTTP_HOST="tenant-b.localhost").get(link).status_code == 404
    assert Client(HTTP_HOST="tenant-a.localhost").get(link[:-3] + "xx/").status_code == 404
    # and tenant B's Owner gets 404 for the export itself
    with in_tenant(tenant_b):
        owner_b = owner_of("b")
    assert api_client("b", owner_b).get(f"/api/v1/exports/{export.pk}/").status_code == 404
    assert logged_in("b", owner_b).get(f"/reports/exports/{export.pk}/").status_code == 404
    # and an expired link is a 404
    settings.REPORTS_EXPORT_TTL_S = 0
    with in_tenant(counted.tenant):
        Export.objects.filter(pk=export.pk).update(
            expires_at=datetime.now(tz=UTC) - timedelta(seconds=1))
    assert client.get(link).status_code == 404


def test_export_requests_that_the_api_refuses_start_nothing(world_a: Any, logged_in: Any,
                                                           api_client: Any,
                                                           in_tenant: Any) -> None:
    from analytics.reports.models import Export

    client = api_client("a", world_a.owner)
    too_long = client.post("/api/v1/exports/", {"kind": "counts", "format": "pdf", "params": {
        "line": world_a.line.pk, "from": "2024-01-01T00:00:00", "to": "2027-06-01T00:00:00",
        "bucket": "hour"}}, format="json")
    assert too_long.status_code == 400 and "at most 1098 days" in str(too_long.json())
    hidden = api_client("a", world_a.viewer).post("/api/v1/exports/", {
        "kind": "counts", "params": {"site": world_a.site.pk, "from": "2026-01-01T00:00:00",
                                     "to": "2026-02-01T00:00:00"}}, format="json")
    assert hidden.status_code == 404
    portal = logged_in("a", world_a.owner).post("/reports/exports/new/", {
        "scope": f"line:{world_a.line.pk}", "start": "2026-02-01", "end": "2026-01-01",
        "bucket": "hour", "format": "csv"})
    assert portal.status_code == 400 and b"must not be before" in portal.content
    with in_tenant(world_a.tenant):
        assert not Export.objects.exists()
