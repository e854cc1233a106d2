"""Exports: CSV, XLSX and PDF of a series carry exactly the numbers of /api/v1/counts/."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.api import factories
from tests.api.test_counts import _ledger

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def counted(tenant_a: Any, in_tenant: Any, owner_of: Any) -> dict[str, Any]:
    """A Paris site with two lines that counted 700 crossings over the October DST change."""
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="Europe/Paris", name="Rue de Rivoli")
        camera = factories.CameraFactory(site=site)
        lines = [factories.LineFactory(camera=camera), factories.LineFactory(camera=camera)]
        owner = owner_of("a")
    start = datetime(2026, 10, 24, tzinfo=PARIS)
    _ledger(in_tenant, tenant_a, camera, lines, start.astimezone(UTC), 72, 700, seed=11)
    return {"site": site, "owner": owner,
            "query": {"site": site.pk, "from": "2026-10-24T00:00:00",
                      "to": "2026-10-27T00:00:00", "bucket": "hour"}}


def _api_rows(client: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get("/api/v1/counts/", query)
    assert response.status_code == 200, response.content
    return list(response.json()["results"])


def _text(value: Any) -> str:
    """A field as the exports write it: lists joined with ';', None empty."""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else str(value)


def test_csv_xlsx_and_pdf_carry_the_numbers_of_the_api(counted: dict[str, Any],
                                                       api_client: Any) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    # given the API's hourly counts of the site over three days, one of them 25 hours long
    client = api_client("a", counted["owner"])
    api = _api_rows(client, counted["query"])
    assert len(api) == 73 and sum(r["count_in"] + r["count_out"] for r in api) == 700
    columns = list(api[0])  # every field of a row, whatever the series carries
    assert columns[:4] == ["start", "end", "count_in", "count_out"]
    expected = [[_text(r[c]) for c in columns] for r in api]

    # when the same series is exported as CSV, XLSX and PDF
    files = {}
    for fmt in ("csv", "xlsx", "pdf"):
        response = client.get("/api/v1/counts/export/", {**counted["query"], "format": fmt})
        assert response.status_code == 200, response.content
        assert f".{fmt}" in response["Content-Disposition"]
        files[fmt] = b"".join(response.streaming_content)

    # then the CSV's rows are the API's rows, column for column
    rows = list(csv.reader(io.StringIO(files["csv"].decode())))
    assert rows[0] == columns
    assert rows[1:] == expected
    # and the XLSX's Data sheet too, with numbers as numbers
    book = load_workbook(io.BytesIO(files["xlsx"]), read_only=True)
    sheet = [list(r) for r in book["Data"].iter_rows(values_only=True)]
    assert sheet[0] == columns
    assert sheet[1:] == [[_text(r[c]) if isinstance(r[c], list | type(None)) else r[c]
                          for c in columns] for r in api]
    about = dict(r[:2] for r in book["About"].iter_rows(values_only=True) if len(r) > 1)
    assert about["Site"] == "Rue de Rivoli" and about["Timezone"] == "Europe/Paris"
    # and the PDF's text: title facts, then every row in order
    reader = PdfReader(io.BytesIO(files["pdf"]))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Rue de Rivoli" in text and "Europe/Paris" in text
    assert "2026-10-24 00:00 to 2026-10-27 00:00" in text
    assert _pdf_rows(text, columns=len(columns)) == [[c for c in row if c] for row in expected]


def _pdf_rows(text: str, columns: int) -> list[list[str]]:
    """The table's rows from the PDF's text (one cell per line; a row starts at a time)."""
    cells = [line.strip() for line in text.splitlines() if line.strip()]
    rows = []
    index = 0
    while index < len(cells):
        if re.match(r"^\d{4}-\d\d-\d\dT", cells[index]):
            rows.append(cells[index:index + columns])
            index += columns
        else:
            index += 1
    return rows


def test_export_errors_are_json_and_another_tenant_gets_404(counted: dict[str, Any],
                                                            api_client: Any, tenant_b: Any,
                                                            in_tenant: Any,
                                                            owner_of: Any) -> None:
    client = api_client("a", counted["owner"])
    # a range the series refuses is the API's JSON error, not a broken file
    response = client.get("/api/v1/counts/export/", {**counted["query"], "bucket": "minute",
                                                     "format": "pdf"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["to"]
    # an unknown format is a 404 of the format, as DRF answers
    assert client.get("/api/v1/counts/export/", {**counted["query"],
                                                 "format": "docx"}).status_code == 404
    # tenant B's Owner asking for tenant A's site (same id) on B's domain gets 404
    with in_tenant(tenant_b):
        owner_b = owner_of("b")
    response = api_client("b", owner_b).get("/api/v1/counts/export/",
                                            {**counted["query"], "format": "csv"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_history_page_downloads_xlsx_and_pdf_of_its_table(counted: dict[str, Any],
                                                          api_client: Any,
                                                          logged_in: Any) -> None:
    from openpyxl import load_workbook
    from pypdf import PdfReader

    # given the history page of the site per day over the three days
    site = counted["site"]
    client = logged_in("a", counted["owner"])
    query = {"series": [f"site:{site.pk}"], "range": "custom", "start": "2026-10-24",
             "end": "2026-10-26", "bucket": "day"}
    page = client.get("/history/", query).content.decode()
    assert 'id="xlsx-link"' in page and 'id="pdf-link"' in page
    assert 'href="/reports/#export-title"' in page  # longer ranges: exports by a task
    api = api_client("a", counted["owner"]).get("/api/v1/counts/", {
        "site": site.pk, "from": "2026-10-24T00:00:00", "to": "2026-10-27T00:00:00",
        "bucket": "day"}).json()["results"]

    # when its Excel and PDF links are followed
    xlsx = client.get("/history/export.xlsx", query)
    pdf = client.get("/history/export.pdf", query)

    # then both carry the page's table: the API's numbers, the 25-hour day labelled
    assert xlsx.status_code == 200 and pdf.status_code == 200
    sheet = list(load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)),
                               read_only=True)["Data"].iter_rows(values_only=True))
    assert sheet[0] == ("bucket_start", "bucket_end", "label", "Rue de Rivoli in",
                        "Rue de Rivoli out")
    assert [(r[0], r[2], r[3], r[4]) for r in sheet[1:]] == [
        (p["start"], label, p["count_in"], p["count_out"]) for p, label in zip(
            api, ["Sat 24 Oct 2026", "Sun 25 Oct 2026 (25 h)", "Mon 26 Oct 2026"], strict=True)]
    text = "\n".join(p.extract_text() for p in PdfReader(
        io.BytesIO(b"".join(pdf.streaming_content))).pages)
    assert "Europe/Paris" in text and "Sun 25 Oct 2026 (25 h)" in text
    assert [row[3:] for row in _pdf_rows(text, columns=5)] == [
        [str(p["count_in"]), str(p["count_out"])] for p in api]
    # and a query the page refuses is a plain-text error, not a file
    wrong = client.get("/history/export.pdf", {**query, "end": "2026-10-01"})
    assert wrong.status_code == 400 and b"could not be made" in wrong.content


def test_occupancy_export_carries_every_field_of_the_api(tenant_a: Any, in_tenant: Any,
                                                         owner_of: Any, api_client: Any) -> None:
    from pypdf import PdfReader

    from counting.leases import lease_acquire
    from counting.ledger import LedgerBatch, ledger_write
    from counting.rollups import ZoneMinute, minute_of

    # given a zone with occupancy samples over two hours
    with in_tenant(tenant_a):
        site = factories.SiteFactory(timezone="Europe/Paris", name="Halles")
        camera = factories.CameraFactory(site=site)
        zone = factories.ZoneFactory(camera=camera)
        owner = owner_of("a")
        lease = lease_acquire(camera_id=camera.pk, owner="tests", ttl_s=60)
        assert lease is not None
        start = datetime(2026, 5, 4, 10, tzinfo=PARIS).astimezone(UTC)
        ledger_write(LedgerBatch(camera_id=camera.pk, generation=lease.generation, seq=1,
                                 events=(), zones=tuple(
            ZoneMinute(zone_id=zone.pk, minute=minute_of(start + timedelta(minutes=m)),
                       samples=2, occupancy_sum=m % 7, max_occupancy=m % 5)
            for m in range(0, 120, 3))))
    client = api_client("a", owner)
    query = {"zone": zone.pk, "from": "2026-05-04T09:00:00", "to": "2026-05-04T13:00:00",
             "bucket": "hour"}
    api = client.get("/api/v1/occupancy/", query).json()["results"]
    columns = list(api[0])

    # when it is exported as CSV and PDF
    csv_file = client.get("/api/v1/occupancy/export/", {**query, "format": "csv"})
    pdf_file = client.get("/api/v1/occupancy/export/", {**query, "format": "pdf"})

    # then the CSV has every field of every row; the PDF every row's times and maxima
    rows = list(csv.reader(io.StringIO(b"".join(csv_file.streaming_content).decode())))
    assert rows[0] == columns
    assert rows[1:] == [[_text(r[c]) for c in columns] for r in api]
    text = "\n".join(p.extract_text() for p in PdfReader(
        io.BytesIO(b"".join(pdf_file.streaming_content))).pages)
    assert "Halles" in text
    for row in api:
        assert row["start"] in text


def test_site_occupancy_export_carries_every_field_of_the_api(counted: dict[str, Any],
                                                              api_client: Any) -> None:
    client = api_client("a", counted["owner"])
    query = {"site": counted["site"].pk, "from": "2026-10-24T00:00:00",
             "to": "2026-10-27T00:00:00", "bucket": "hour"}
    answer = client.get("/api/v1/site-occupancy/", query)
    assert answer.status_code == 200, answer.content
    api = answer.json()["results"]
    exported = client.get("/api/v1/site-occupancy/export/", {**query, "format": "csv"})
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert rows[0] == list(api[0]) and len(rows) == 1 + 73
    assert rows[1:] == [[_text(r[c]) for c in api[0]] for r in api]
