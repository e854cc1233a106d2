"""Forms of the site and camera management pages.

They only shape and check the input a browser sends; the rules (names, URL policy, opening
hours, quota) are the services', whose errors are put back on the fields by ``apply_errors``.
"""

from __future__ import annotations

import zoneinfo
from datetime import time
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from cameras.constants import DETECT_FPS_HELP, DETECT_FPS_MAX, DETECT_FPS_MIN, WEEKDAYS
from cameras.models import Site
from cameras.selectors import ai_models_choosable
from tenants.platform.models import AiModel

WEEKDAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                    "Saturday", "Sunday"), strict=True))
RANGES_PER_DAY = 2
CHOICE_NAME_CHARS = 80


def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA timezone, grouped names first (Europe/Paris) and sorted."""
    names = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})
    return [(name, name.replace("_", " ")) for name in names]


def apply_errors(form: forms.Form, exc: ValidationError, field_map: dict[str, str] | None = None,
                 ) -> None:
    """Put a service's ValidationError on the form's fields (or above the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, messages in exc.message_dict.items():
        name = (field_map or {}).get(field, field)
        form.add_error(name if name in form.fields else None, messages)


def _time_field(label: str) -> forms.TimeField:
    # The table shows no label per cell: the input carries its own for screen readers.
    return forms.TimeField(required=False, label=label, input_formats=["%H:%M", "%H:%M:%S"],
                           widget=forms.TimeInput(attrs={"type": "time", "aria-label": label},
                                                  format="%H:%M"))


class SiteForm(forms.Form):
    """A site: name, address, timezone from a list and opening hours per weekday.

    Each weekday has up to two ranges (a lunch break); a day with none is closed. A range that
    closes at 00:00 closes at midnight.
    """

    name = forms.CharField(max_length=200)
    address = forms.CharField(max_length=500, required=False)
    timezone = forms.ChoiceField(choices=timezone_choices, initial="Europe/Paris",
                                 help_text="Days, hours and opening hours are counted in this "
                                           "timezone, daylight saving included.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day in WEEKDAYS:
            for n in range(1, RANGES_PER_DAY + 1):
                again = " again" if n > 1 else ""
                self.fields[f"{day}_open{n}"] = _time_field(
                    f"{WEEKDAY_NAMES[day]} opens{again}")
                self.fields[f"{day}_close{n}"] = _time_field(
                    f"{WEEKDAY_NAMES[day]} closes{again}")

    @classmethod
    def initial_from(cls, site: Site) -> dict[str, Any]:
        initial: dict[str, Any] = {"name": site.name, "address": site.address,
                                   "timezone": site.timezone}
        for day, ranges in (site.opening_hours or {}).items():
            for n, (opens, closes) in enumerate(ranges[:RANGES_PER_DAY], start=1):
                initial[f"{day}_open{n}"] = opens
                initial[f"{day}_close{n}"] = "00:00" if closes == "24:00" else closes
        return initial

    def weekday_rows(self) -> list[dict[str, Any]]:
        """Per weekday its name and bound fields, for the template's table."""
        return [{"day": day, "name": WEEKDAY_NAMES[day],
                 "ranges": [(self[f"{day}_open{n}"], self[f"{day}_close{n}"])
                            for n in range(1, RANGES_PER_DAY + 1)]}
                for day in WEEKDAYS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        hours: dict[str, list[list[str]]] = {}
        for day in WEEKDAYS:
            ranges: list[list[str]] = []
            for n in range(1, RANGES_PER_DAY + 1):
                opens: time | None = data.get(f"{day}_open{n}")
                closes: time | None = data.get(f"{day}_close{n}")
                if opens is None and closes is None:
                    continue
                if opens is None or closes is None:
                    missing = f"{day}_open{n}" if opens is None else f"{day}_close{n}"
                    self.add_error(missing, f"{WEEKDAY_NAMES[day]}: give both the opening and "
                                            "the closing time, or neither (closed).")
                    continue
                close_text = "24:00" if closes == time(0, 0) else closes.strftime("%H:%M")
                if close_text <= opens.strftime("%H:%M"):
                    self.add_error(f"{day}_close{n}",
                                   f"{WEEKDAY_NAMES[day]}: the closing time must be after the "
                                   "opening time (00:00 means midnight).")
                    continue
                ranges.append([opens.strftime("%H:%M"), close_text])
            if ranges:
                hours[day] = sorted(ranges)
        data["opening_hours"] = hours
        return data


class SiteChoiceField(forms.ModelChoiceField):
    """Sites in a drop-down, long names shortened."""

    def label_from_instance(self, obj: Any) -> str:
        name = obj.name if len(obj.name) <= CHOICE_NAME_CHARS else (
            obj.name[:CHOICE_NAME_CHARS - 1] + "…")
        return name


class CameraForm(forms.Form):
    """A camera: its site, name, stream address and credentials, analysis rate, on or off.

    The password is write-only: left empty it keeps the stored one; "clear_password" removes it.
    """

    site = SiteChoiceField(queryset=Site.objects.none(), empty_label=None)
    name = forms.CharField(max_length=200)
    stream_url = forms.CharField(
        max_length=2000, label="Stream address",
        help_text="rtsp://, rtsps://, http:// or https:// (MJPEG); without the password.",
        widget=forms.TextInput(attrs={"placeholder": "rtsp://192.168.1.20:554/stream1",
                                      "inputmode": "url", "autocomplete": "off"}))
    username = forms.CharField(max_length=200, required=False,
                               widget=forms.TextInput(attrs={"autocomplete": "off"}))
    password = forms.CharField(required=False, max_length=500,
                               widget=forms.PasswordInput(render_value=False,
                                                          attrs={"autocomplete": "new-password"}))
    clear_password = forms.BooleanField(required=False, label="Remove the stored password")
    detect_fps = forms.FloatField(min_value=DETECT_FPS_MIN, max_value=DETECT_FPS_MAX,
                                  initial=5.0, label="Frames analysed per second",
                                  help_text=DETECT_FPS_HELP,
                                  widget=forms.NumberInput(attrs={"step": "0.5"}))
    enabled = forms.BooleanField(required=False, initial=True, label="Counting enabled")
    ai_model = forms.ModelChoiceField(
        queryset=AiModel.objects.none(), required=False, label="Detector model",
        empty_label="Default model",
        help_text="The default is your account's or plan's model. Choose another only for a "
                  "camera that needs it (a different view or light); a running camera "
                  "switches within seconds.")

    def __init__(self, *args: Any, sites: Any, has_password: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]
        self.fields["ai_model"].queryset = ai_models_choosable()  # type: ignore[attr-defined]
        self.fields["password"].help_text = (
            "A password is stored (encrypted); leave empty to keep it." if has_password
            else "Leave empty if the camera needs none.")
        if not has_password:
            del self.fields["clear_password"]


class ConnectionTestForm(forms.Form):
    """What "Test connection" tries: the address and credentials typed in the form."""

    stream_url = forms.CharField(max_length=2000)
    username = forms.CharField(max_length=200, required=False)
    password = forms.CharField(max_length=500, required=False)
