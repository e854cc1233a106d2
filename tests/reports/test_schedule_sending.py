"""Scheduled reports leave once per period, at the site's local time, over the right hours.

A committed tenant (the due checks run in threads with their own database connections, like two
scheduler processes) and a real SMTP server on loopback (aiosmtpd).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.alerts.conftest import live_db, place_make, smtp  # noqa: F401 (fixtures)
from tests.alerts.servers import SmtpRecorder
from tests.conftest import PASSWORD

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def report_tenant(live_db: None) -> Iterator[Any]:  # noqa: F811
    from django.db import connection

    from tenants.platform.services import tenant_create, tenant_delete

    connection.set_schema_to_public()
    slug = f"rp_{uuid.uuid4().hex[:10]}"
    made = tenant_create(name="Reports Ltd", slug=slug,
                         domain=f"{slug.replace('_', '-')}.localhost",
                         owner_email=f"owner@{slug.replace('_', '-')}.test",
                         owner_password=PASSWORD)
    yield made.tenant
    connection.set_schema_to_public()
    tenant_delete(slug=slug)


@pytest.fixture
def mail_to(smtp: tuple[SmtpRecorder, int], settings: Any) -> SmtpRecorder:  # noqa: F811
    recorder, port = smtp
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    recorder.clear()
    return recorder


def _due_check(tenant: Any, now: datetime) -> list[int]:
    """One scheduler's due check, on its own database connection."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from analytics.reports.sending import reports_due_run

    try:
        with tenant_context(tenant):
            return reports_due_run(now=now, inline=True)
    finally:
        connection.close()


def test_daily_report_after_the_october_change_covers_25_hours_and_arrives_once(
        report_tenant: Any, mail_to: SmtpRecorder) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_tenants.utils import tenant_context

    from analytics.reports.models import ReportSchedule, ReportSend
    from analytics.reports.services import report_schedule_create
    from audit.models import AuditEvent

    # given a Paris site whose door counted (h % 4) + 1 entries in every real hour of Sunday
    # 25 October 2026 (25 hours: 02:00-03:00 happens twice) and 5 on the days around it
    place = place_make(report_tenant)
    day_start = datetime(2026, 10, 25, tzinfo=PARIS).astimezone(UTC)
    place.batch(entries=5, at=day_start - timedelta(minutes=30))
    expected = []
    for hour in range(25):
        place.batch(entries=hour % 4 + 1, at=day_start + timedelta(hours=hour, minutes=10))
        expected.append(hour % 4 + 1)
    place.batch(entries=5, at=day_start + timedelta(hours=25, minutes=20))
    # and a daily CSV report per hour at 07:00 local to two addresses, scheduled at 06:00
    with tenant_context(report_tenant):
        owner = get_user_model().objects.get(username__startswith="owner@")
        schedule = report_schedule_create(
            actor=owner, name="Door daily", frequency="daily", send_time=time(7, 0),
            site=place.site, bucket="hour", format="csv",
            recipients=["ana@shop.test", "Ben@Shop.test"])
        ReportSchedule.objects.filter(pk=schedule.pk).update(
            created_at=datetime(2026, 10, 26, 6, 0, tzinfo=PARIS))

    # when the due check runs just before 07:00: nothing is due yet
    assert _due_check(report_tenant, datetime(2026, 10, 26, 6, 59, 59, tzinfo=PARIS)) == []
    # and at 07:00 two schedulers check at once, then one restarted checks again
    at_seven = datetime(2026, 10, 26, 7, 0, 1, tzinfo=PARIS)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: _due_check(report_tenant, at_seven), range(2)))
    again = _due_check(report_tenant, at_seven + timedelta(seconds=30))

    # then exactly one check claimed the period and each address got exactly one e-mail
    assert sorted(len(r) for r in results) == [0, 1] and again == []
    assert [len(mail_to.to(a)) for a in ("ana@shop.test", "ben@shop.test")] == [1, 1]
    mail = mail_to.to("ana@shop.test")[0]
    assert mail.subject.endswith("Daily report: Door daily, Sun 25 Oct 2026 (25 h)")
    assert "25 hours" in mail.part("text/plain")
    # and its CSV covers local midnight to midnight: 25 hourly rows, the 02:00 hour twice
    attachment = next(p for p in mail.message.walk() if p.get_filename())
    rows = list(csv.DictReader(io.StringIO(attachment.get_content().decode()
                                           if isinstance(attachment.get_content(), bytes)
                                           else attachment.get_content())))
    assert [r["start"] for r in rows][:4] == [
        "2026-10-25T00:00:00+02:00", "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
    assert rows[-1]["end"] == "2026-10-26T00:00:00+01:00"
    assert [int(r["count_in"]) for r in rows] == expected
    with tenant_context(report_tenant):
        send = ReportSend.objects.get(schedule=schedule)
        assert (send.status, send.rows, sorted(send.delivered)) == (
            "sent", 25, ["ana@shop.test", "ben@shop.test"])
        assert send.period_end - send.period_start == timedelta(hours=25)

    # when Ana follows the unsubscribe link of her e-mail (no sign-in) and confirms
    link = next(line for line in mail.part("text/plain").splitlines()
                if line.startswith("Unsubscribe: "))[len("Unsubscribe: "):]
    path = "/" + link.split("/", 3)[3]
    client = Client(HTTP_HOST=f"{report_tenant.schema_name.replace('_', '-')}.localhost")
    page = client.get(path)
    assert page.status_code == 200 and b"ana@shop.test" in page.content
    done = client.post(path)

    # then she is off the list (audited), Ben stays, and the next day's report skips her
    assert done.status_code == 200 and b"will no longer receive" in done.content
    with tenant_context(report_tenant):
        schedule.refresh_from_db()
        assert schedule.recipients == ["ben@shop.test"]
        assert AuditEvent.objects.filter(action="report_schedule.unsubscribe",
                                         target_id=str(schedule.pk)).count() == 1
    mail_to.clear()
    assert len(_due_check(report_tenant, datetime(2026, 10, 27, 7, 0, tzinfo=PARIS))) == 1
    assert [len(mail_to.to(a)) for a in ("ana@shop.test", "ben@shop.test")] == [0, 1]
    # and the same link on another tenant's domain is a 404
    assert Client(HTTP_HOST="tenant-b.localhost").get(path).status_code == 404


@pytest.mark.slow
def test_a_real_worker_makes_the_export_and_sends_the_report_in_their_tenant(
        report_tenant: Any, smtp: tuple[SmtpRecorder, int], settings: Any,  # noqa: F811
        tmp_path: Any) -> None:
    """The tasks carry their tenant: the export task and the send task run in a real worker
    (its own process, a private queue) in the tenant that asked."""
    from django.contrib.auth import get_user_model
    from django_tenants.utils import tenant_context
    from rest_framework.test import APIClient

    from analytics.reports.models import ReportSchedule, ReportSend
    from analytics.reports.services import report_schedule_create
    from analytics.reports.tasks import reports_due
    from tests.alerts.conftest import wait_for, worker_ready
    from tests.celery_worker import celery_worker
    from tests.streams.conftest import queue_delete

    recorder, port = smtp
    recorder.clear()
    queue = f"test-reports-{uuid.uuid4().hex[:8]}"
    settings.REPORTS_QUEUE = queue
    env = {"REPORTS_QUEUE": queue, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port),
           "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
           "REPORTS_EXPORT_DIR": str(tmp_path)}
    settings.REPORTS_EXPORT_DIR = tmp_path
    place = place_make(report_tenant)
    place.batch(entries=7, at=datetime.now(tz=UTC) - timedelta(days=2))
    domain = f"{report_tenant.schema_name.replace('_', '-')}.localhost"
    with tenant_context(report_tenant):
        owner = get_user_model().objects.get(username__startswith="owner@")
        schedule = report_schedule_create(
            actor=owner, name="Worker daily", frequency="daily", send_time=time(0, 0),
            site=place.site, bucket="day", format="xlsx", recipients=["cleo@shop.test"])
        ReportSchedule.objects.filter(pk=schedule.pk).update(
            created_at=datetime.now(tz=UTC) - timedelta(days=3))
    client = APIClient(HTTP_HOST=domain)
    with tenant_context(report_tenant):
        client.force_login(owner)
    try:
        with celery_worker(queue, extra_env=env):
            worker_ready(queue)
            # when an export is asked through the API and the beat's due check runs
            made = client.post("/api/v1/exports/", {"kind": "counts", "format": "csv", "params": {
                "site": place.site.pk, "from": (datetime.now(tz=UTC) - timedelta(days=5))
                .strftime("%Y-%m-%dT00:00:00"), "to": datetime.now(tz=UTC)
                .strftime("%Y-%m-%dT00:00:00"), "bucket": "day"}}, format="json")
            assert made.status_code == 202, made.content
            url = f"/api/v1/exports/{made.json()['id']}/"
            done = wait_for(lambda: (client.get(url).json()["status"] == "done"
                                     and client.get(url).json()), 60, 0.3, message="export")
            reports_due.apply()  # the beat task, platform-wide, in this process
            wait_for(lambda: recorder.to("cleo@shop.test"), 60, 0.3, message="report e-mail")
    finally:
        queue_delete(queue)

    # then the export's link serves the file with the week's 7 crossings
    body = b"".join(client.get(done["download_url"].split(domain, 1)[1]).streaming_content)
    assert sum(int(row["count_in"]) for row in csv.DictReader(io.StringIO(body.decode()))) == 7
    # and the report left once, from the worker, with its XLSX attached
    [mail] = recorder.to("cleo@shop.test")
    assert any(p.get_filename(failobj="").endswith(".xlsx") for p in mail.message.walk())
    with tenant_context(report_tenant):
        assert ReportSend.objects.get(schedule=schedule).status == "sent"
