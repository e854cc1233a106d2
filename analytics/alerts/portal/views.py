"""Portal pages of alerts: the inbox (acknowledge), the rules and their editor, webhook
endpoints and the delivery log.

Everyone signed in sees the alerts of what they may view and acknowledges them; only Owners
and Managers change rules, endpoints and see the delivery log (it holds recipients' addresses).
Writes go through :mod:`analytics.alerts.services` (validated, audited).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from analytics.alerts import services
from analytics.alerts.constants import AlertState
from analytics.alerts.portal.forms import FIELD_MAP, AlertRuleForm, WebhookEndpointForm
from analytics.alerts.selectors import (
    alert_get_visible_to,
    alert_list_visible_to,
    alert_rule_list_visible_to,
    delivery_list_for,
    webhook_endpoint_list_for,
)
from cameras.portal.forms import apply_errors


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied("Only Owners and Managers may change alert rules and endpoints; "
                               "ask an Owner of your organisation.")


def _can_manage(request: HttpRequest) -> bool:
    return bool(request.user.has_perm("analytics.change_alertrule"))


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """Open alerts first (or every alert with ``?state=all``), newest first, 50 a page."""
    state = request.GET.get("state", "open")
    alerts = alert_list_visible_to(user=request.user)
    if state == "open":
        alerts = alerts.filter(state=AlertState.OPEN)
    elif state == "resolved":
        alerts = alerts.filter(state=AlertState.RESOLVED)
    page = Paginator(alerts, 50).get_page(request.GET.get("page"))
    context = {"page": page, "state": state, "can_manage": _can_manage(request),
               "generated_at": timezone.now()}
    template = ("alerts/_inbox_table.html" if request.headers.get("HX-Request")
                else "alerts/inbox.html")
    return render(request, template, context)


@login_required
@require_POST
def acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_get_visible_to(user=request.user, alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert.")
    try:
        services.alert_acknowledge(actor=request.user, alert=alert)
        messages.success(request, f"Alert acknowledged: {alert.message}")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(request.POST.get("next") or "alerts")


@login_required
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = alert_rule_list_visible_to(user=request.user)
    return render(request, "alerts/rule_list.html", {"rules": rules,
                                                     "can_manage": _can_manage(request)})


def _rule_form_page(request: HttpRequest, rule: Any | None) -> HttpResponse:
    initial = AlertRuleForm.initial_from(rule) if rule is not None else None
    form = AlertRuleForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            values = form.service_values()
            if rule is None:
                rule = services.alert_rule_create(actor=request.user, **values)
                messages.success(request, f"Rule “{rule.name}” created.")
            else:
                rule = services.alert_rule_update(actor=request.user, rule=rule, **values)
                messages.success(request, f"Rule “{rule.name}” saved.")
            return redirect("alert-rules")
        except ValidationError as exc:
            apply_errors(form, exc, FIELD_MAP)
    return render(request, "alerts/rule_form.html", {"form": form, "rule": rule},
                  status=400 if form.errors else 200)


@login_required
def rule_create(request: HttpRequest) -> HttpResponse:
    _require(request, "analytics.add_alertrule")
    return _rule_form_page(request, None)


@login_required
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = alert_rule_list_visible_to(user=request.user).filter(pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule.")
    _require(request, "analytics.change_alertrule")
    return _rule_form_page(request, rule)


@login_required
@require_POST
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = alert_rule_list_visible_to(user=request.user).filter(pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule.")
    _require(request, "analytics.delete_alertrule")
    services.alert_rule_delete(actor=request.user, rule=rule)
    messages.success(request, f"Rule “{rule.name}” deleted; its alerts stay in the history.")
    return redirect("alert-rules")


@login_required
def endpoints(request: HttpRequest) -> HttpResponse:
    """Webhook endpoints; adding one shows its signing secret once."""
    _require(request, "analytics.view_webhookendpoint")
    form = WebhookEndpointForm(request.POST or None)
    secret: str | None = None
    if request.method == "POST":
        _require(request, "analytics.add_webhookendpoint")
        if form.is_valid():
            try:
                endpoint, secret = services.webhook_endpoint_create(
                    actor=request.user, **form.cleaned_data)
                messages.success(request, f"Endpoint “{endpoint.name}” added. Copy its "
                                          "secret now: it is not shown again.")
                form = WebhookEndpointForm()
            except ValidationError as exc:
                apply_errors(form, exc)
    context: dict[str, Any] = {"endpoints": webhook_endpoint_list_for(user=request.user),
                               "form": form, "secret": secret}
    return render(request, "alerts/endpoints.html", context,
                  status=400 if form.errors else 200)


@login_required
def delivery_log(request: HttpRequest) -> HttpResponse:
    """Every message (one alert or a digest) and every attempt with its outcome."""
    _require(request, "analytics.view_alertrule")
    deliveries = delivery_list_for(user=request.user)
    page = Paginator(deliveries, 50).get_page(request.GET.get("page"))
    return render(request, "alerts/delivery_log.html", {"page": page})
