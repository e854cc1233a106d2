"""The history page's query: what, which days, which bucket, compared or not."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

RANGES = (("today", "Today"), ("yesterday", "Yesterday"), ("7d", "Last 7 days"),
          ("30d", "Last 30 days"), ("custom", "Custom"))
BUCKET_CHOICES = (("hour", "Hour"), ("day", "Day"), ("week", "Week"), ("month", "Month"))
MAX_SERIES = 8
MAX_CUSTOM_DAYS = 1098


class GroupedSelectMultiple(forms.SelectMultiple):
    """A multiple select with option groups, written out in Python.

    A tenant with 500 cameras and their lines has over a thousand options; Django's per-option
    widget templates made the history page several times slower than its own data reads.
    """

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> SafeString:
        chosen = {str(v) for v in (value or [])}
        final = self.build_attrs(self.attrs, attrs)
        parts = [f'<select name="{escape(name)}" multiple'
                 + "".join(f' {escape(k)}="{escape(v)}"' for k, v in final.items()
                           if v not in (None, False))
                 + ">"]
        for group, options in self.choices:
            parts.append(f'<optgroup label="{escape(group)}">')
            for key, label in options:
                selected = " selected" if str(key) in chosen else ""
                parts.append(f'<option value="{escape(key)}"{selected}>{escape(label)}</option>')
            parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped)


class HistoryForm(forms.Form):
    """Read from the query string, so a view can be bookmarked and shared."""

    series = forms.MultipleChoiceField(
        required=False, label="Sites, cameras, lines or zones", widget=GroupedSelectMultiple,
        help_text=f"Up to {MAX_SERIES}; hold Ctrl (or ⌘) to pick several.")
    range = forms.ChoiceField(choices=RANGES, initial="7d", required=False)
    start = forms.DateField(required=False, label="From",
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To (included)",
                          widget=forms.DateInput(attrs={"type": "date"}))
    bucket = forms.ChoiceField(choices=BUCKET_CHOICES, required=False, label="Per")
    compare = forms.BooleanField(required=False, label="Compare with the previous period")
    open_hours = forms.BooleanField(
        required=False, label="Opening hours only",
        help_text="Count only what happened while the site was open (its opening hours).")

    def __init__(self, *args: Any, choices: list[tuple[str, list[Any]]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        grouped = [(group, [(c.key, ("\u00a0\u00a0" * c.depth) + c.label) for c in items])
                   for group, items in choices]
        self.fields["series"].choices = grouped  # type: ignore[attr-defined]
        self.fields["series"].widget.choices = grouped

    def clean_series(self) -> list[str]:
        keys = list(dict.fromkeys(self.cleaned_data.get("series") or []))
        if len(keys) > MAX_SERIES:
            raise forms.ValidationError(
                f"Pick at most {MAX_SERIES} at once ({len(keys)} were picked).")
        return keys

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["range"] = data.get("range") or "7d"
        if data["range"] == "custom":
            start, end = data.get("start"), data.get("end")
            if start is None and "start" not in self.errors:
                self.add_error("start", "Give the first day of a custom range.")
            if end is None and "end" not in self.errors:
                self.add_error("end", "Give the last day of a custom range.")
            if start and end:
                if end < start:
                    self.add_error("end", "The last day must not be before the first day.")
                elif (end - start).days + 1 > MAX_CUSTOM_DAYS:
                    self.add_error("end", f"A range covers at most {MAX_CUSTOM_DAYS} days.")
        if not data.get("bucket"):
            data["bucket"] = "hour" if data["range"] in ("today", "yesterday") else "day"
        return data


def local_days(*, range_name: str, today: date, start: date | None,
               end: date | None) -> tuple[date, date]:
    """First and last local day (both included) of a named range, ``today`` being the site's."""
    if range_name == "today":
        return today, today
    if range_name == "yesterday":
        return today - timedelta(days=1), today - timedelta(days=1)
    if range_name == "30d":
        return today - timedelta(days=29), today
    if range_name == "custom" and start and end:
        return start, end
    return today - timedelta(days=6), today


def previous_days(first: date, last: date) -> tuple[date, date]:
    """The period of the same number of days just before [first, last]."""
    length = (last - first).days + 1
    return first - timedelta(days=length), first - timedelta(days=1)
