"""The rule editor's form: one "watch" select for the scope (a site, camera, line or zone the
user may see), recipients as lists one per line; the services validate the rest."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from analytics.alerts.constants import WEEKDAYS, RuleKind, Schedule, Severity
from analytics.alerts.models import AlertRule, WebhookEndpoint
from cameras.selectors import camera_list_visible_to, site_list_visible_to
from counting.models import CountingLine, Zone

WEEKDAY_CHOICES = [(i, name.capitalize()) for i, name in enumerate(WEEKDAYS)]
TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def watch_choices(user: Any) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices ``site:1``, ``camera:3``, ``line:5``, ``zone:7`` the user may view."""
    sites = list(site_list_visible_to(user=user))
    cameras = list(camera_list_visible_to(user=user))
    camera_ids = [c.pk for c in cameras]
    lines = CountingLine.objects.filter(camera_id__in=camera_ids).select_related("camera")
    zones = (Zone.objects.filter(camera_id__in=camera_ids, ignore_detections=False)
             .select_related("camera"))
    return [
        ("Sites", [(f"site:{s.pk}", s.name) for s in sites]),
        ("Cameras", [(f"camera:{c.pk}", f"{c.site.name} / {c.name}") for c in cameras]),
        ("Counting lines", [(f"line:{ln.pk}", f"{ln.camera.name} / {ln.name}") for ln in lines]),
        ("Zones", [(f"zone:{z.pk}", f"{z.camera.name} / {z.name}"
                    + (f" (capacity {z.capacity})" if z.capacity else "")) for z in zones]),
    ]


def _lines(value: str) -> list[str]:
    return [part.strip() for part in value.replace(",", "\n").splitlines() if part.strip()]


class AlertRuleForm(forms.Form):
    """Create or edit a rule."""

    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=RuleKind.choices, label="Alert when")
    watch = forms.ChoiceField(label="Watch", help_text=(
        "Occupancy: a zone, a camera's zones or a site. Footfall: a line, zone, camera or "
        "site. Camera health and completeness: a camera, or every camera of a site."))
    threshold = forms.FloatField(required=False, min_value=0, help_text=(
        "People (occupancy), entries (footfall), minimum % complete (data), fps (low fps). "
        "Occupancy above a zone defaults to its capacity."))
    duration_s = forms.IntegerField(min_value=0, initial=0, label="For at least (seconds)")
    period_start = forms.TimeField(required=False, widget=TIME_INPUT,
                                   label="Period from (site's local time)",
                                   help_text="Footfall and completeness rules only.")
    period_end = forms.TimeField(required=False, widget=TIME_INPUT, label="Period until")
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.WARNING)
    schedule = forms.ChoiceField(choices=Schedule.choices, initial=Schedule.ALWAYS)
    weekdays = forms.TypedMultipleChoiceField(choices=WEEKDAY_CHOICES, coerce=int,
                                              widget=forms.CheckboxSelectMultiple,
                                              initial=[0, 1, 2, 3, 4, 5, 6])
    cooldown_s = forms.IntegerField(min_value=0, initial=600, label="Cool-down (seconds)",
                                    help_text="No new alert of this rule and place sooner "
                                              "after the last one resolved.")
    users = forms.ModelMultipleChoiceField(queryset=get_user_model().objects.none(),
                                           required=False, label="Tell these users (e-mail)",
                                           widget=forms.CheckboxSelectMultiple)
    emails = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             label="E-mail addresses", help_text="One per line.")
    phones = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                             label="Phone numbers (SMS)",
                             help_text="One per line, international form: +447700900123.")
    webhooks = forms.ModelMultipleChoiceField(queryset=WebhookEndpoint.objects.none(),
                                              required=False, label="Webhook endpoints",
                                              widget=forms.CheckboxSelectMultiple)
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["watch"].choices = watch_choices(user)  # type: ignore[attr-defined]
        self.fields["users"].queryset = (  # type: ignore[attr-defined]
            get_user_model().objects.filter(is_active=True).exclude(email="")
            .order_by("username"))
        self.fields["webhooks"].queryset = (  # type: ignore[attr-defined]
            WebhookEndpoint.objects.order_by("name"))

    @classmethod
    def initial_from(cls, rule: AlertRule) -> dict[str, Any]:
        ids = {"site": rule.site_id, "camera": rule.camera_id, "line": rule.line_id,
               "zone": rule.zone_id}
        return {"name": rule.name, "kind": rule.kind, "watch": f"{rule.scope}:{ids[rule.scope]}",
                "threshold": rule.threshold, "duration_s": rule.duration_s,
                "period_start": rule.period_start, "period_end": rule.period_end,
                "severity": rule.severity, "schedule": rule.schedule,
                "weekdays": rule.weekdays, "cooldown_s": rule.cooldown_s,
                "users": list(rule.recipient_users.all()), "emails": "\n".join(rule.emails),
                "phones": "\n".join(rule.phones), "webhooks": list(rule.webhooks.all()),
                "enabled": rule.enabled}

    def service_values(self) -> dict[str, Any]:
        """The cleaned data as the services take it."""
        from analytics.alerts.services import scope_objects

        data = dict(self.cleaned_data)
        scope, _, pk = data.pop("watch").partition(":")
        try:
            objects = scope_objects(**{scope: int(pk)})
        except ValidationError as exc:
            raise ValidationError({"watch": exc.messages}) from exc
        return {"name": data["name"], "kind": data["kind"], "scope": scope,
                "site": None, "camera": None, "line": None, "zone": None, **objects,
                "threshold": data["threshold"], "duration_s": data["duration_s"],
                "period_start": data["period_start"], "period_end": data["period_end"],
                "severity": data["severity"], "schedule": data["schedule"],
                "weekdays": list(data["weekdays"]), "cooldown_s": data["cooldown_s"],
                "users": list(data["users"]), "emails": _lines(data["emails"]),
                "phones": _lines(data["phones"]), "webhooks": list(data["webhooks"]),
                "enabled": data["enabled"]}


# service error fields -> form fields
FIELD_MAP = {"scope": "watch", "site": "watch", "camera": "watch", "line": "watch",
             "zone": "watch"}


class WebhookEndpointForm(forms.Form):
    """Add a webhook endpoint (its URL passes the address policy)."""

    name = forms.CharField(max_length=100)
    url = forms.CharField(max_length=2000, label="URL",
                          help_text="https://... Loopback, link-local and metadata addresses "
                                    "are refused.")
