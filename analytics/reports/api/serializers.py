"""Input and output shapes of report schedules and exports."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.reports.models import (
    Export,
    ExportFormat,
    Frequency,
    ReportBucket,
    ReportSchedule,
    ReportSend,
)
from analytics.reports.periods import next_due

ID_MAX = 2**63 - 1


class ReportScheduleInputSerializer(serializers.Serializer):
    """A schedule to create or change: the narrowest of site, camera, line, zone is its scope."""

    name = serializers.CharField(max_length=200)
    frequency = serializers.ChoiceField(choices=Frequency.choices, default=Frequency.DAILY)
    send_time = serializers.TimeField(help_text="Local time of the site, e.g. 07:00.")
    weekday = serializers.IntegerField(min_value=0, max_value=6, default=0,
                                       help_text="Weekly: 0 = Monday ... 6 = Sunday.")
    site = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False,
                                    allow_null=True)
    camera = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False,
                                      allow_null=True)
    line = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False,
                                    allow_null=True)
    zone = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False,
                                    allow_null=True)
    bucket = serializers.ChoiceField(choices=ReportBucket.choices, default=ReportBucket.HOUR)
    format = serializers.ChoiceField(choices=ExportFormat.choices, default=ExportFormat.PDF)
    recipients = serializers.ListField(child=serializers.CharField(max_length=254),
                                       max_length=50, min_length=1)
    enabled = serializers.BooleanField(default=True)


class ReportSendSerializer(serializers.ModelSerializer):
    """One period's send."""

    class Meta:
        model = ReportSend
        fields = ["period_start", "period_end", "due_at", "status", "attempts", "sent_at",
                  "rows", "error"]


class ReportScheduleOutputSerializer(serializers.ModelSerializer):
    """A schedule, when it sends next and its last five sends."""

    scope = serializers.CharField()
    next_send_at = serializers.SerializerMethodField()
    recent_sends = serializers.SerializerMethodField()

    class Meta:
        model = ReportSchedule
        fields = ["id", "name", "frequency", "send_time", "weekday", "scope", "site", "camera",
                  "line", "zone", "bucket", "format", "recipients", "enabled", "next_send_at",
                  "recent_sends", "created_at", "updated_at"]

    @extend_schema_field(serializers.DateTimeField())
    def get_next_send_at(self, obj: ReportSchedule) -> Any:
        tz = ZoneInfo(obj.site.timezone)
        return next_due(frequency=obj.frequency, weekday=obj.weekday, send_time=obj.send_time,
                        tz=tz, now=timezone.now()).isoformat()

    @extend_schema_field(ReportSendSerializer(many=True))
    def get_recent_sends(self, obj: ReportSchedule) -> Any:
        return ReportSendSerializer(obj.sends.all()[:5], many=True).data


class ExportInputSerializer(serializers.Serializer):
    """An export to make: the query of /counts/ (kind counts) or /occupancy/ and a format."""

    kind = serializers.ChoiceField(choices=["counts", "occupancy"], default="counts")
    format = serializers.ChoiceField(choices=ExportFormat.choices, default=ExportFormat.CSV)
    params = serializers.DictField(
        child=serializers.CharField(max_length=100),
        help_text="The series query: site, camera or line (or zone), from, to, bucket (and "
                  "hours for counts). Ranges up to 1098 days per hour or day, 31 per minute.")


class ExportOutputSerializer(serializers.ModelSerializer):
    """An export's state; ``download_url`` (signed, expiring) once it is ready."""

    progress = serializers.IntegerField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "kind", "format", "params", "status", "progress", "rows_done",
                  "rows_expected", "size", "filename", "error", "created_at", "finished_at",
                  "expires_at", "download_url"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, obj: Export) -> str | None:
        from analytics.reports.exports import download_token

        if obj.status != "done":
            return None
        path = reverse("report-export-download", args=[download_token(obj)])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path
