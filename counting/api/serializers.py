"""Input and output shapes of counting rules, health and ledger events."""

from __future__ import annotations

from rest_framework import serializers

from cameras.constants import CameraStatus
from counting.constants import (
    ENTRANCE_HELP,
    IGNORE_DETECTIONS_HELP,
    Direction,
    EntranceDirection,
    GapCause,
    HealthCondition,
)
from counting.models import CountEvent, CountingLine, Zone
from tenants.rest.json_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
)

COORDINATE_HELP = "A fraction of the image width/height, 0..1."


class LineOutputSerializer(serializers.ModelSerializer):
    """A counting line as shown."""

    class Meta:
        model = CountingLine
        fields = ["id", "camera", "name", "x1", "y1", "x2", "y2", "in_label", "out_label",
                  "enabled", "entrance", "version", "created_at", "updated_at"]
        read_only_fields = fields


class LineInputSerializer(serializers.Serializer):
    """A counting line as written: a segment of non-zero length inside the image.

    Crossing from the segment's left side to its right side (walking from (x1, y1) to (x2, y2),
    image y pointing down) counts as ``in``.
    """

    camera = StrictIntegerField(min_value=1, help_text="Id of a camera you may change.")
    name = StrictCharField(max_length=100)
    x1 = StrictFloatField(min_value=0.0, max_value=1.0, help_text=COORDINATE_HELP)
    y1 = StrictFloatField(min_value=0.0, max_value=1.0, help_text=COORDINATE_HELP)
    x2 = StrictFloatField(min_value=0.0, max_value=1.0, help_text=COORDINATE_HELP)
    y2 = StrictFloatField(min_value=0.0, max_value=1.0, help_text=COORDINATE_HELP)
    in_label = StrictCharField(max_length=50, required=False)
    out_label = StrictCharField(max_length=50, required=False)
    enabled = StrictBooleanField(required=False)
    entrance = serializers.ChoiceField(choices=EntranceDirection.choices, required=False,
                                       allow_blank=True, help_text=ENTRANCE_HELP)


class LineUpdateSerializer(LineInputSerializer):
    """A counting line as changed: the camera cannot change."""

    camera = None  # type: ignore[assignment]


class ZoneOutputSerializer(serializers.ModelSerializer):
    """A zone as shown."""

    points = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))

    class Meta:
        model = Zone
        fields = ["id", "camera", "name", "points", "capacity", "ignore_detections", "enabled",
                  "entrance", "version", "created_at", "updated_at"]
        read_only_fields = fields


class ZoneInputSerializer(serializers.Serializer):
    """A zone as written: a simple polygon (edges do not cross) of 3 to 64 points in 0..1."""

    camera = StrictIntegerField(min_value=1, help_text="Id of a camera you may change.")
    name = StrictCharField(max_length=100)
    points = serializers.ListField(
        child=serializers.ListField(
            child=StrictFloatField(min_value=0.0, max_value=1.0),
            min_length=2, max_length=2),
        min_length=3, max_length=64, help_text="[[x, y], ...] in order around the boundary.")
    capacity = StrictIntegerField(min_value=1, max_value=1_000_000, required=False,
                                  allow_null=True)
    ignore_detections = StrictBooleanField(required=False, help_text=IGNORE_DETECTIONS_HELP)
    enabled = StrictBooleanField(required=False)
    entrance = serializers.ChoiceField(choices=EntranceDirection.choices, required=False,
                                       allow_blank=True, help_text=ENTRANCE_HELP)


class ZoneUpdateSerializer(ZoneInputSerializer):
    """A zone as changed: the camera cannot change."""

    camera = None  # type: ignore[assignment]


class CountEventSerializer(serializers.ModelSerializer):
    """One crossing in the ledger."""

    direction = serializers.ChoiceField(choices=Direction.choices)

    class Meta:
        model = CountEvent
        fields = ["id", "camera", "line", "direction", "track_id", "occurred_at", "frame_index",
                  "score", "model_version", "rule_version", "recorded_at"]
        read_only_fields = fields


class CameraGapSerializer(serializers.Serializer):
    """A stretch of time in which the camera's frames were not analysed (``ended_at`` and
    ``seconds`` are null while it lasts). Cause ``overload``: analysed in part only, the
    runner could not keep up; ``analysed_share`` is the share of the frames due that were
    analysed and ``seconds_unanalysed`` the analysis time lost (the whole gap otherwise)."""

    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True)
    cause = serializers.ChoiceField(choices=GapCause.choices)
    reason = serializers.CharField(allow_blank=True)
    analysed_share = serializers.FloatField(allow_null=True)
    seconds_unanalysed = serializers.FloatField(allow_null=True)


class CameraHealthSerializer(serializers.Serializer):
    """The latest stream health of a camera, as reported by its runner, with the condition of
    its analysis and its recent gaps."""

    camera = serializers.IntegerField()
    state = serializers.ChoiceField(choices=CameraStatus.choices)
    reason = serializers.CharField(allow_blank=True)
    last_frame_at = serializers.DateTimeField(allow_null=True)
    fps_received = serializers.FloatField()
    fps_analysed = serializers.FloatField()
    frame_age_s = serializers.FloatField(allow_null=True)
    frames_dropped = serializers.IntegerField(
        help_text="Frames the source replaced before the runner read them (this run).")
    frames_skipped = serializers.IntegerField(
        help_text="Frames due at the camera's detect rate that the runner could not analyse "
                  "because the machine was overloaded (a total that only grows).")
    events_lost = serializers.IntegerField()
    reconnects = serializers.IntegerField()
    condition = serializers.ChoiceField(choices=HealthCondition.choices)
    condition_reason = serializers.CharField(allow_blank=True)
    recent_gaps = CameraGapSerializer(many=True)
    updated_at = serializers.DateTimeField(allow_null=True)
