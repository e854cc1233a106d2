"""Query and answer shapes of count and occupancy series."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework import serializers

from analytics.series import BUCKETS, MAX_RANGE

ID_MAX = 2**63 - 1
RANGE_HELP = ", ".join(f"{b} <= {MAX_RANGE[b].days} days" for b in BUCKETS)


YEARS = (1970, 2999)  # counts exist only in between; outside, calendar arithmetic overflows


def _check_years(values: dict[str, Any]) -> None:
    """Dates of series lie within :data:`YEARS` (a clear 400 instead of a calendar overflow)."""
    for key in ("start", "end"):
        value = values.get(key)
        if value is not None and not YEARS[0] <= value.year <= YEARS[1]:
            raise serializers.ValidationError(
                {key: [f"Use a date between {YEARS[0]} and {YEARS[1]}."]})


class LocalDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time; one without offset is read in the site's timezone later."""

    def enforce_timezone(self, value: datetime) -> datetime:
        return value


class _SeriesQuerySerializer(serializers.Serializer):
    """Common query of series: the window and the bucket size."""

    start = LocalDateTimeField(
        help_text="Start (inclusive), ISO 8601; without an offset it is read in the site's "
                  "timezone. Rounded down to the bucket boundary.")
    end = LocalDateTimeField(help_text="End (exclusive), ISO 8601.")
    bucket = serializers.ChoiceField(choices=BUCKETS, default="hour",
                                     help_text=f"Bucket size; ranges are capped: {RANGE_HELP}.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # ``from``/``to`` are Python keywords: map them to start/end and back for errors.
        mapped = {("start" if k == "from" else "end" if k == "to" else k): v
                  for k, v in data.items()}
        try:
            values = dict(super().to_internal_value(mapped))
            _check_years(values)
            return values
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            raise serializers.ValidationError(
                {("from" if k == "start" else "to" if k == "end" else k): v
                 for k, v in detail.items()}) from exc


HOURS_CHOICES = ("all", "open")
COMPARE_CHOICES = ("previous", "weekday")


class CountsQuerySerializer(_SeriesQuerySerializer):
    """``/counts/`` query: exactly one of site, camera or line; optionally opening hours only."""

    compare = serializers.ChoiceField(
        choices=COMPARE_CHOICES, required=False,
        help_text="previous: the same series over the period of the same length just before; "
                  "weekday: the same series one week earlier (each bucket against the same "
                  "weekday and time).")
    hours = serializers.ChoiceField(
        choices=HOURS_CHOICES, default="all",
        help_text="open: count only what happened during the site's opening hours (a site "
                  "without opening hours is then always closed); all (default): every hour.")
    site = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)
    camera = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)
    line = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [k for k in ("site", "camera", "line") if k in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"site": ["Give exactly one of site, camera or line."]})
        return attrs


class OccupancyQuerySerializer(_SeriesQuerySerializer):
    """``/occupancy/`` query: one zone."""

    zone = serializers.IntegerField(min_value=1, max_value=ID_MAX)


class ScopeSerializer(serializers.Serializer):
    """What was counted."""

    type = serializers.ChoiceField(choices=["site", "camera", "line", "zone"])
    id = serializers.IntegerField()


class CountPointSerializer(serializers.Serializer):
    """One bucket of counts; start/end carry the site's UTC offset."""

    start = LocalDateTimeField()
    end = LocalDateTimeField()
    count_in = serializers.IntegerField()
    count_out = serializers.IntegerField()
    coverage = serializers.FloatField(
        help_text="Share (0..1) of the bucket during which its cameras were analysed.")
    quality = serializers.ChoiceField(
        choices=["complete", "partial", "missing"],
        help_text="complete: fully analysed; partial: gaps, lost crossings or a changed line "
                  "or zone; missing: nothing analysed.")
    quality_notes = serializers.ListField(child=serializers.CharField(),
                                         help_text="What made the bucket partial or missing.")


class TotalsSerializer(serializers.Serializer):
    """Sums over the whole answer."""

    count_in = serializers.IntegerField()
    count_out = serializers.IntegerField()


class EntranceSerializer(serializers.Serializer):
    """One entrance of a site and which of its directions enters."""

    type = serializers.ChoiceField(choices=["line", "zone"])
    id = serializers.IntegerField()
    name = serializers.CharField()
    entering = serializers.ChoiceField(choices=["in", "out"])


class FootfallSerializer(serializers.Serializer):
    """What a site's counts are made of: its entrances, or all lines when none is marked."""

    basis = serializers.ChoiceField(choices=["entrances", "all_lines"])
    entrances = EntranceSerializer(many=True)


class ComparisonSerializer(serializers.Serializer):
    """The same series over an earlier period, bucket for bucket."""

    type = serializers.ChoiceField(choices=COMPARE_CHOICES)
    start = LocalDateTimeField()
    end = LocalDateTimeField()
    results = CountPointSerializer(many=True)
    total = TotalsSerializer()


class CountSeriesSerializer(serializers.Serializer):
    """A count series."""

    scope = ScopeSerializer()
    timezone = serializers.CharField()
    bucket = serializers.ChoiceField(choices=BUCKETS)
    hours = serializers.ChoiceField(choices=HOURS_CHOICES)
    footfall = FootfallSerializer(required=False, help_text="Site scope only.")
    compare = ComparisonSerializer(required=False, help_text="With ?compare= only.")
    start = LocalDateTimeField(help_text="Start of the first bucket.")
    end = LocalDateTimeField(help_text="End of the last bucket.")
    results = CountPointSerializer(many=True)
    total = TotalsSerializer()


class OccupancyPointSerializer(serializers.Serializer):
    """One bucket of occupancy."""

    start = LocalDateTimeField()
    end = LocalDateTimeField()
    avg = serializers.FloatField()
    max = serializers.IntegerField()
    entries = serializers.IntegerField()
    exits = serializers.IntegerField()
    dwell_count = serializers.IntegerField(help_text="Exits of the bucket with their dwell.")
    dwell_median = serializers.FloatField(allow_null=True,
                                          help_text="Median seconds inside (null: no exit).")
    dwell_p90 = serializers.FloatField(allow_null=True, help_text="90th percentile, seconds.")
    dwell_mean = serializers.FloatField(allow_null=True, help_text="Mean seconds inside.")
    dwell_distribution = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Exits per dwell bin, in the order of the answer's dwell_bins.")
    coverage = serializers.FloatField(
        help_text="Share (0..1) of the bucket during which its cameras were analysed.")
    quality = serializers.ChoiceField(
        choices=["complete", "partial", "missing"],
        help_text="complete: fully analysed; partial: gaps, lost crossings or a changed line "
                  "or zone; missing: nothing analysed.")
    quality_notes = serializers.ListField(child=serializers.CharField(),
                                         help_text="What made the bucket partial or missing.")


class OccupancySeriesSerializer(serializers.Serializer):
    """An occupancy series of one zone."""

    dwell_bins = serializers.ListField(child=serializers.CharField(),
                                       help_text="Labels of dwell_distribution's bins.")
    scope = ScopeSerializer()
    timezone = serializers.CharField()
    bucket = serializers.ChoiceField(choices=BUCKETS)
    start = LocalDateTimeField()
    end = LocalDateTimeField()
    results = OccupancyPointSerializer(many=True)


class SiteOccupancyQuerySerializer(_SeriesQuerySerializer):
    """``/site-occupancy/`` query: one site."""

    site = serializers.IntegerField(min_value=1, max_value=ID_MAX)


class SiteOccupancyPointSerializer(serializers.Serializer):
    """One bucket of a site's occupancy."""

    start = LocalDateTimeField()
    end = LocalDateTimeField()
    occupancy = serializers.IntegerField(help_text="At the bucket's end (now for the current "
                                                   "and later buckets).")
    max = serializers.IntegerField(help_text="Highest occupancy in the bucket (per minute).")
    entering = serializers.IntegerField()
    leaving = serializers.IntegerField()
    removed = serializers.IntegerField(help_text="Taken away by resets in the bucket (drift: "
                                                 "exits never counted).")
    clamped = serializers.IntegerField(help_text="Exits ignored because occupancy was already "
                                                 "zero (entries never counted).")
    coverage = serializers.FloatField()
    quality = serializers.ChoiceField(choices=["complete", "partial", "missing"])
    quality_notes = serializers.ListField(child=serializers.CharField())


class OccupancyResetSerializer(serializers.Serializer):
    """One reset of a site's occupancy to zero."""

    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["closing", "manual"])
    removed = serializers.IntegerField()
    actor = serializers.CharField(help_text="Who reset it (manual resets).")
    reason = serializers.CharField()


class SiteOccupancySeriesSerializer(serializers.Serializer):
    """A site's occupancy from its entrances, with the resets of the range."""

    scope = ScopeSerializer()
    timezone = serializers.CharField()
    bucket = serializers.ChoiceField(choices=BUCKETS)
    start = LocalDateTimeField()
    end = LocalDateTimeField()
    current = serializers.IntegerField(help_text="Occupancy now (or at the range's end).")
    footfall = FootfallSerializer()
    results = SiteOccupancyPointSerializer(many=True)
    resets = OccupancyResetSerializer(many=True)


class OccupancyResetInputSerializer(serializers.Serializer):
    """A manual reset: the site and, optionally, why."""

    site = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class OccupancyResetOutputSerializer(serializers.Serializer):
    """The reset just recorded."""

    id = serializers.IntegerField()
    site = serializers.IntegerField(source="site_id")
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    removed = serializers.IntegerField()
    actor = serializers.CharField(source="actor_name")
    reason = serializers.CharField()


class SitesTotalsQuerySerializer(serializers.Serializer):
    """``/counts/sites/`` query: local days [from, to)."""

    start = serializers.DateField(help_text="First local day (included).")
    end = serializers.DateField(help_text="Day after the last one (excluded).")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        mapped = {("start" if k == "from" else "end" if k == "to" else k): v
                  for k, v in data.items()}
        try:
            values = dict(super().to_internal_value(mapped))
            _check_years(values)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            raise serializers.ValidationError(
                {("from" if k == "start" else "to" if k == "end" else k): v
                 for k, v in detail.items()}) from exc
        if values["start"] >= values["end"]:
            raise serializers.ValidationError({"from": ["'from' must be before 'to'."]})
        if (values["end"] - values["start"]).days > MAX_RANGE["day"].days:
            raise serializers.ValidationError(
                {"to": [f"At most {MAX_RANGE['day'].days} days; shorten the range."]})
        return values


class SiteDayTotalSerializer(serializers.Serializer):
    """One local day summed over the sites, each counted in its own timezone."""

    day = serializers.DateField()
    count_in = serializers.IntegerField()
    count_out = serializers.IntegerField()


class SitesTotalsSerializer(serializers.Serializer):
    """Footfall of every site you may view, per local day of each site."""

    sites = serializers.ListField(child=serializers.IntegerField())
    results = SiteDayTotalSerializer(many=True)
    total = TotalsSerializer()
