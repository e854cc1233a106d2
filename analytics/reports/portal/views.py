"""Portal pages of reports: schedules (Owners and Managers), exports made by a task with their
progress, the signed download of an export and the unsubscribe page of a report e-mail.

Writes go through :mod:`analytics.reports.services` (validated, audited). The download and
unsubscribe pages work without signing in: their links are signed for this tenant.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import APIException

from analytics.history.scopes import scope_choices, scope_resolve
from analytics.reports import services
from analytics.reports.exports import download_resolve, download_token, export_create, export_path
from analytics.reports.models import Export, ReportSchedule
from analytics.reports.portal.forms import FIELD_MAP, ExportForm, ReportScheduleForm
from analytics.reports.writers import CONTENT_TYPES
from cameras.models import Camera, Site
from cameras.portal.forms import apply_errors
from counting.models import CountingLine, Zone


def _can_manage(request: HttpRequest) -> bool:
    return bool(request.user.has_perm("analytics.change_reportschedule"))


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied("Only Owners and Managers may schedule reports; ask an Owner "
                               "of your organisation.")


def _schedule(request: HttpRequest, schedule_id: int) -> ReportSchedule:
    if not request.user.has_perm("analytics.view_reportschedule"):
        raise Http404("No such report.")
    schedule = ReportSchedule.objects.select_related("site").filter(pk=schedule_id).first()
    if schedule is None:
        raise Http404("No such report.")
    return schedule


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    """Schedules (Owners and Managers) and your exports, with the form of a new export."""
    choices = scope_choices(user=request.user)
    schedules = (ReportSchedule.objects.select_related("site")
                 if request.user.has_perm("analytics.view_reportschedule")
                 else ReportSchedule.objects.none())
    exports = Export.objects.filter(created_by=request.user.pk)[:20]
    return render(request, "reports/list.html", {
        "schedules": schedules, "exports": exports, "can_manage": _can_manage(request),
        "export_form": ExportForm(choices=choices), "has_choices": bool(choices)})


def _scope_objects(user: Any, key: str) -> dict[str, Any] | None:
    scope = scope_resolve(user=user, key=key)
    if scope is None:
        return None
    model = {"site": Site, "camera": Camera, "line": CountingLine, "zone": Zone}[scope.kind]
    return {scope.kind: model._default_manager.get(pk=scope.id)}


def _schedule_form(request: HttpRequest, schedule: ReportSchedule | None) -> HttpResponse:
    choices = scope_choices(user=request.user)
    if request.method == "POST":
        form = ReportScheduleForm(request.POST, choices=choices)
        if form.is_valid():
            data = dict(form.cleaned_data)
            objects = _scope_objects(request.user, data.pop("scope"))
            if objects is None:
                form.add_error("scope", "Choose something you may view.")
            else:
                try:
                    if schedule is None:
                        services.report_schedule_create(actor=request.user, **data, **objects)
                        messages.success(request, f"Report “{data['name']}” scheduled.")
                    else:
                        services.report_schedule_update(
                            actor=request.user, schedule=schedule, **data,
                            **{"site": None, "camera": None, "line": None, "zone": None,
                               **objects})
                        messages.success(request, f"Report “{data['name']}” saved.")
                    return redirect("reports")
                except ValidationError as exc:
                    apply_errors(form, exc, FIELD_MAP)
        status = 400
    else:
        initial: dict[str, Any] = {}
        if schedule is not None:
            initial = {"name": schedule.name, "scope": f"{schedule.scope}:"
                       f"{getattr(schedule, f'{schedule.scope}_id')}",
                       "frequency": schedule.frequency,
                       "send_time": schedule.send_time, "weekday": schedule.weekday,
                       "bucket": schedule.bucket, "format": schedule.format,
                       "recipients": "\n".join(schedule.recipients),
                       "enabled": schedule.enabled}
        form = ReportScheduleForm(initial=initial or None, choices=choices)
        status = 200
    return render(request, "reports/schedule_form.html",
                  {"form": form, "schedule": schedule}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_create(request: HttpRequest) -> HttpResponse:
    _require(request, "analytics.add_reportschedule")
    return _schedule_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_edit(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = _schedule(request, schedule_id)
    _require(request, "analytics.change_reportschedule")
    return _schedule_form(request, schedule)


@login_required
@require_POST
def schedule_delete(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = _schedule(request, schedule_id)
    _require(request, "analytics.delete_reportschedule")
    services.report_schedule_delete(actor=request.user, schedule=schedule)
    messages.success(request, f"Report “{schedule.name}” deleted.")
    return redirect("reports")


@login_required
@require_POST
def export_new(request: HttpRequest) -> HttpResponse:
    """Queue an export of the chosen scope and days; then its progress page."""
    choices = scope_choices(user=request.user)
    form = ExportForm(request.POST, choices=choices)
    problem = ""
    if form.is_valid():
        params = form.params()
        kind = "occupancy" if "zone" in params else "counts"
        if scope_resolve(user=request.user, key=form.cleaned_data["scope"]) is None:
            problem = "Choose something you may view."
        else:
            try:
                export = export_create(user=request.user, kind=kind,
                                       fmt=form.cleaned_data["format"], params=params)
                return redirect("report-export", export_id=export.pk)
            except APIException as exc:
                problem = f"The export could not be started: {_detail(exc.detail)}"
    if problem:
        form.add_error(None, problem)
    schedules = (ReportSchedule.objects.select_related("site")
                 if request.user.has_perm("analytics.view_reportschedule")
                 else ReportSchedule.objects.none())
    return render(request, "reports/list.html", {
        "schedules": schedules, "exports": Export.objects.filter(created_by=request.user.pk)[:20],
        "can_manage": _can_manage(request), "export_form": form,
        "has_choices": bool(choices)}, status=400)


def _detail(detail: Any) -> str:
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_detail(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(_detail(v) for v in detail)
    return str(detail)


@login_required
def export_detail(request: HttpRequest, export_id: str) -> HttpResponse:
    """An export's progress; the page polls its own fragment (htmx) until it is ready."""
    export = Export.objects.filter(pk=export_id, created_by=request.user.pk).first()
    if export is None:
        raise Http404("No such export.")
    link = download_token(export) if export.status == "done" else None
    template = ("reports/_export_progress.html" if request.headers.get("HX-Request")
                else "reports/export.html")
    return render(request, template, {"export": export, "token": link})


def export_download(request: HttpRequest, token: str) -> FileResponse:
    """The file of a signed, unexpired link made on this tenant (no sign-in needed)."""
    export = download_resolve(token)
    if export is None:
        raise Http404("This download link is not valid here or has expired: make the export "
                      "again.")
    return FileResponse(export_path(export).open("rb"), as_attachment=True,
                        filename=export.filename or f"export.{export.format}",
                        content_type=CONTENT_TYPES[export.format])


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Stop a report's e-mails to one address (signed link of the e-mail, no sign-in)."""
    found = services.unsubscribe_read(token)
    if found is None:
        raise Http404("This unsubscribe link is not valid.")
    schedule, email = found
    done = None
    if request.method == "POST":
        done = services.report_unsubscribe(schedule=schedule, email=email)
    return render(request, "reports/unsubscribe.html", {
        "schedule": schedule, "email": email, "done": done,
        "subscribed": email in schedule.recipients and done is None})
