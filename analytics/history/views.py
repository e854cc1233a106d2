"""The history page and its downloads (``/history/``, ``/history/export.csv|xlsx|pdf``)."""

from __future__ import annotations

import csv
import tempfile
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics.history.forms import HistoryForm
from analytics.history.report import HistoryReport, history_report
from analytics.history.scopes import Scope, scope_choices, scope_resolve
from analytics.reports.tables import ExportTable
from analytics.reports.writers import CONTENT_TYPES, export_write
from analytics.series import SeriesRangeError, SeriesTimeoutError, SeriesTooLargeError


def _build(request: HttpRequest) -> tuple[HistoryForm, HistoryReport | None, list[str], int]:
    """The bound form, the report (None when the query is wrong) and problems to show."""
    choices = scope_choices(user=request.user)
    form = HistoryForm(request.GET or None, choices=choices)
    if not choices:
        return form, None, [], 200
    if not form.is_bound:
        first = choices[0][1][0].key
        form = HistoryForm({"series": [first], "range": "7d"}, choices=choices)
    if not form.is_valid():
        return form, None, [], 400
    data = form.cleaned_data
    keys = data["series"] or [choices[0][1][0].key]
    scopes: list[Scope] = []
    for key in keys:
        scope = scope_resolve(user=request.user, key=key)
        if scope is not None:
            scopes.append(scope)
    zones = {s.timezone for s in scopes}
    if len(zones) > 1:
        form.add_error("series", "These are in different timezones ("
                       f"{', '.join(sorted(zones))}): days and hours would not line up. "
                       "Compare places of one timezone at a time.")
        return form, None, [], 400
    try:
        report = history_report(scopes=scopes, range_name=data["range"], start=data.get("start"),
                                end=data.get("end"), bucket=data["bucket"],
                                compare=data["compare"],
                                open_hours=bool(data.get("open_hours")))
    except SeriesRangeError as exc:
        form.add_error("bucket" if exc.field == "to" else None, str(exc))
        return form, None, [], 400
    except SeriesTooLargeError as exc:
        return form, None, [f"{exc} Choose a shorter range, a larger bucket or fewer items."], 400
    except SeriesTimeoutError as exc:
        return form, None, [f"{exc} Try a shorter range or a larger bucket."], 503
    return form, report, [], 200


@require_GET
@login_required
def history(request: HttpRequest) -> HttpResponse:
    """Chart and table of the chosen series, with the CSV link for the same query."""
    form, report, problems, status = _build(request)
    context: dict[str, Any] = {"form": form, "report": report, "problems": problems,
                               "generated_at": timezone.now(),
                               "query": request.GET.urlencode()}
    if report is not None:
        context.update(rows=report.rows(), columns=report.columns(), chart=report.chart(),
                       totals=[(r.scope, r.totals(), r.totals(r.previous) if r.previous
                                is not None else None) for r in report.series],
                       long_days=report.long_days())
    return render(request, "analytics/history.html", context, status=status)


def _cell(value: Any) -> Any:
    return "" if value is None else value


@require_GET
@login_required
def history_csv(request: HttpRequest) -> HttpResponse:
    """The page's table as CSV: one row per bucket, local times with their UTC offset."""
    form, report, problems, status = _build(request)
    if report is None:
        message = "; ".join(problems + [f"{k}: {' '.join(str(e) for e in v)}"
                                         for k, v in form.errors.items()])
        return HttpResponse(f"The CSV could not be made: {message or 'nothing to show'}\n",
                            status=status if status != 200 else 400,
                            content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    period = report.period
    response["Content-Disposition"] = (
        f'attachment; filename="history-{period.first:%Y%m%d}-{period.last:%Y%m%d}-'
        f'{report.bucket}.csv"')
    writer = csv.writer(response)
    writer.writerow(["bucket_start", "bucket_end", "label", *report.columns()])
    for row in report.rows():
        writer.writerow([row["start"].isoformat(), row["end"].isoformat(), row["label"],
                         *[_cell(v) for v in row["values"]]])
    return response


def history_table(report: HistoryReport) -> ExportTable:
    """The page's table as an export table (the same rows and columns as its CSV)."""
    columns = ["bucket_start", "bucket_end", "label", *report.columns()]

    def rows() -> Any:
        for row in report.rows():
            yield dict(zip(columns, [row["start"].isoformat(), row["end"].isoformat(),
                                     row["label"], *row["values"]], strict=True))

    labels = ", ".join(result.scope.label for result in report.series)
    tz = report.period.start.tzinfo
    return ExportTable(kind="counts", site_name=labels, scope_label=labels,
                       scope={"type": "history", "id": ""}, timezone=report.timezone,
                       bucket=report.bucket, start=report.period.start.astimezone(tz),
                       end=report.period.end.astimezone(tz), rows=rows(), columns=columns)


@require_GET
@login_required
def history_file(request: HttpRequest, fmt: str) -> HttpResponse | FileResponse:
    """The page's table as XLSX or PDF (with the site names, range, timezone and a chart)."""
    if fmt not in ("xlsx", "pdf"):
        raise Http404("Unknown format.")
    form, report, problems, status = _build(request)
    if report is None:
        message = "; ".join(problems + [f"{k}: {' '.join(str(e) for e in v)}"
                                         for k, v in form.errors.items()])
        return HttpResponse(f"The file could not be made: {message or 'nothing to show'}\n",
                            status=status if status != 200 else 400,
                            content_type="text/plain; charset=utf-8")
    out = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 (FileResponse closes)
    export_write(history_table(report), fmt, out)  # type: ignore[arg-type]
    out.seek(0)
    period = report.period
    return FileResponse(out, as_attachment=True, content_type=CONTENT_TYPES[fmt],
                        filename=f"history-{period.first:%Y%m%d}-{period.last:%Y%m%d}-"
                                 f"{report.bucket}.{fmt}")
