"""Portal forms of reports: a schedule and an export made by a task."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms

from analytics.history.scopes import Choice
from analytics.reports.models import ExportFormat, Frequency, ReportBucket

WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"),
            (5, "Saturday"), (6, "Sunday")]
# Service field -> form field, for errors.
FIELD_MAP = {"site": "scope", "camera": "scope", "line": "scope", "zone": "scope"}


def _grouped(choices: list[tuple[str, list[Choice]]]) -> list[tuple[str, list[tuple[str, str]]]]:
    return [(group, [(c.key, ("\u00a0\u00a0" * c.depth) + c.label) for c in items])
            for group, items in choices]


class ReportScheduleForm(forms.Form):
    """A report e-mailed at a local time of the site, covering the previous local period."""

    name = forms.CharField(max_length=200)
    scope = forms.ChoiceField(label="Site, camera, line or zone")
    frequency = forms.ChoiceField(choices=Frequency.choices, initial=Frequency.DAILY,
                                  help_text="Daily: the previous day (23 or 25 hours on "
                                            "daylight-saving days). Weekly: the previous Monday "
                                            "to Sunday. Monthly (sent on the 1st): the previous "
                                            "month.")
    send_time = forms.TimeField(label="Send at (site's local time)", initial="07:00",
                                input_formats=["%H:%M", "%H:%M:%S"],
                                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    weekday = forms.TypedChoiceField(choices=WEEKDAYS, coerce=int, initial=0,
                                     label="Day of the week (weekly reports)")
    bucket = forms.ChoiceField(choices=ReportBucket.choices, initial=ReportBucket.HOUR,
                               label="One row per")
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.PDF)
    recipients = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}),
                                 help_text="E-mail addresses, separated by commas or lines "
                                           "(at most 50). Each can unsubscribe from the e-mail.")
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, choices: list[tuple[str, list[Choice]]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = _grouped(choices)  # type: ignore[attr-defined]


class ExportForm(forms.Form):
    """A longer export than the history page makes at once (a year of hours)."""

    scope = forms.ChoiceField(label="Site, camera, line or zone")
    start = forms.DateField(label="From (day included)",
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (day included)",
                          widget=forms.DateInput(attrs={"type": "date"}))
    bucket = forms.ChoiceField(choices=[("hour", "Hour"), ("day", "Day"), ("minute", "Minute")],
                               initial="hour", label="One row per")
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.CSV)

    def __init__(self, *args: Any, choices: list[tuple[str, list[Choice]]],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = _grouped(choices)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if isinstance(start, date) and isinstance(end, date) and end < start:
            self.add_error("end", "The last day must not be before the first day.")
        return data

    def params(self) -> dict[str, str]:
        """The series query of the chosen scope and days (local midnights)."""
        data = self.cleaned_data
        kind, _, pk = str(data["scope"]).partition(":")
        return {kind: pk, "from": f"{data['start'].isoformat()}T00:00:00",
                "to": f"{(data['end'] + timedelta(days=1)).isoformat()}T00:00:00",
                "bucket": data["bucket"]}
