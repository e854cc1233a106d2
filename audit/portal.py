"""The audit log page of the portal: who did what, filtered by action, person, object and date.

Read-only, for users with ``audit.view_auditevent`` (Owner, Manager). Dates are read as UTC
days: the trail is the tenant's, not a site's.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit.models import AuditEvent

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    """Filters of the audit log; every one optional."""

    action = forms.ChoiceField(required=False)
    actor = forms.CharField(required=False, max_length=254, label="Person",
                            help_text="E-mail, or part of it.")
    target_type = forms.ChoiceField(required=False, label="Object type")
    date_from = forms.DateField(required=False, label="From (UTC day)",
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To (UTC day, included)",
                              widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        types = (AuditEvent.objects.exclude(target_type="").order_by("target_type")
                 .values_list("target_type", flat=True).distinct())
        self.fields["action"].choices = [("", "Any action")] + [(a, a) for a in actions]  # type: ignore[attr-defined]
        self.fields["target_type"].choices = [  # type: ignore[attr-defined]
            ("", "Any object")] + [(t, t) for t in types]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The last day must not be before the first day.")
        return data


def audit_events_filtered(data: dict[str, Any]) -> Any:
    """Audit events matching the cleaned filters, newest first."""
    events = AuditEvent.objects.all()
    if data.get("action"):
        events = events.filter(action=data["action"])
    if data.get("actor"):
        events = events.filter(actor_name__icontains=data["actor"].strip())
    if data.get("target_type"):
        events = events.filter(target_type=data["target_type"])
    if data.get("date_from"):
        events = events.filter(occurred_at__gte=datetime.combine(data["date_from"], time.min,
                                                                 tzinfo=UTC))
    if data.get("date_to"):
        events = events.filter(occurred_at__lt=datetime.combine(
            data["date_to"] + timedelta(days=1), time.min, tzinfo=UTC))
    return events.order_by("-occurred_at", "-id")


@require_GET
@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """The tenant's audit trail, 50 events a page."""
    if not request.user.has_perm("audit.view_auditevent"):
        raise PermissionDenied("Only Owners and Managers see the audit log.")
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    page = Paginator(audit_events_filtered(data), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/log.html", {"form": form, "page": page,
                                              "query": query.urlencode(),
                                              "generated_at": timezone.now()},
                  status=400 if form.is_bound and form.errors else 200)


urlpatterns = [path("manage/audit/", audit_log, name="manage-audit")]
