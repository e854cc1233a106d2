"""Input and output shapes of sites and cameras, and of the object permissions on them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cameras.constants import DETECT_FPS_HELP, DETECT_FPS_MAX, DETECT_FPS_MIN, CameraStatus
from cameras.models import Camera, Site
from cameras.permissions import OBJECT_ACTIONS
from tenants.rest.json_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictIntegerField,
)
from tenants.rest.mixins import ID_MAX


class SiteOutputSerializer(serializers.ModelSerializer):
    """A site as shown."""

    class Meta:
        model = Site
        fields = ["id", "name", "address", "timezone", "opening_hours", "created_at",
                  "updated_at"]
        read_only_fields = fields


class SiteInputSerializer(serializers.Serializer):
    """A site as written; the service validates timezone and opening hours."""

    name = StrictCharField(max_length=200)
    address = StrictCharField(max_length=500, required=False, allow_blank=True)
    timezone = StrictCharField(max_length=64, required=False,
                               help_text="An IANA timezone such as Europe/Paris.")
    opening_hours = serializers.DictField(
        child=serializers.ListField(child=serializers.ListField(
            child=StrictCharField(max_length=5), min_length=2, max_length=2)),
        required=False,
        help_text='Weekday (mon..sun) to ranges: {"mon": [["09:00", "18:00"]]}.')


# What only those who may change a camera see of it (Viewers need counts, not access details).
CAMERA_ACCESS_FIELDS = ("stream_url", "username", "has_password")


class CameraOutputSerializer(serializers.ModelSerializer):
    """A camera as shown: its password never, only whether one is set; query-string
    credentials of the URL as ``***``.

    Users who may not change the camera (Viewers) get the reduced shape: without
    ``stream_url``, ``username`` and ``has_password``. The view passes the ids of the cameras
    the user may change as ``context["full_camera_ids"]`` (None: all of them).
    """

    has_password = serializers.BooleanField(
        read_only=True, help_text="Only for users who may change the camera.")
    status = serializers.ChoiceField(choices=CameraStatus.choices, read_only=True)
    stream_url = serializers.CharField(
        read_only=True, help_text="Credentials in the query string are shown as ***. Only for "
                                  "users who may change the camera.")
    username = serializers.CharField(read_only=True,
                                     help_text="Only for users who may change the camera.")
    ai_model = serializers.IntegerField(
        source="ai_model_id", read_only=True, allow_null=True,
        help_text="Id of the camera's own detector model (see /api/v1/detector-models/); null: "
                  "the tenant's default.")

    class Meta:
        model = Camera
        fields = ["id", "site", "name", "stream_url", "username", "has_password", "detect_fps",
                  "enabled", "ai_model", "status", "status_reason", "created_at", "updated_at"]
        read_only_fields = fields

    def to_representation(self, instance: Camera) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        full = self.context.get("full_camera_ids")
        if full is not None and instance.pk not in full:
            for key in CAMERA_ACCESS_FIELDS:
                data.pop(key, None)
        return data


class CameraInputSerializer(serializers.Serializer):
    """A camera as written; the stream URL is checked against the URL policy by the service."""

    site = StrictIntegerField(min_value=1, help_text="Id of a site you can see.")
    name = StrictCharField(max_length=200)
    stream_url = StrictCharField(
        max_length=2000, help_text="rtsp://, rtsps://, http:// or https://, no credentials "
        "before the host (use username and password). Credentials in the query string "
        "(?user=..&pwd=..) are stored encrypted and shown as ***; sending *** back keeps "
        "the stored value.")
    username = StrictCharField(max_length=200, required=False, allow_blank=True)
    password = StrictCharField(max_length=200, required=False, allow_blank=True,
                               write_only=True, style={"input_type": "password"})
    detect_fps = StrictFloatField(required=False, min_value=DETECT_FPS_MIN,
                                  max_value=DETECT_FPS_MAX, help_text=DETECT_FPS_HELP)
    enabled = StrictBooleanField(required=False)
    ai_model = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=ID_MAX,
        help_text="Id of an active detector model (GET /api/v1/detector-models/), or null for "
                  "the tenant's default.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        return dict(super().to_internal_value(data))


# --- Object permissions (per site or camera, granted to a user or a group) ----------------------
class ObjectPermissionInputSerializer(serializers.Serializer):
    """Grant or revoke ``action`` on one site or camera to one user or group."""

    action = serializers.ChoiceField(choices=OBJECT_ACTIONS)
    target_type = serializers.ChoiceField(choices=["site", "camera"])
    target_id = StrictIntegerField(min_value=1, max_value=ID_MAX)
    user = StrictIntegerField(min_value=1, max_value=ID_MAX, required=False)
    group = StrictIntegerField(min_value=1, max_value=ID_MAX, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("user" in attrs) == ("group" in attrs):
            raise serializers.ValidationError({"user": ["Give exactly one of user or group."]})
        return attrs


class ObjectPermissionQuerySerializer(serializers.Serializer):
    """Filters of the object permission list, all optional."""

    target_type = serializers.ChoiceField(choices=["site", "camera"], required=False)
    target_id = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)
    user = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)
    group = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False)


class ObjectPermissionSerializer(serializers.Serializer):
    """One object permission held directly by a user or a group."""

    action = serializers.ChoiceField(choices=OBJECT_ACTIONS)
    target_type = serializers.ChoiceField(choices=["site", "camera"])
    target_id = serializers.IntegerField()
    user = serializers.IntegerField(allow_null=True)
    group = serializers.IntegerField(allow_null=True)


class ObjectPermissionChangeSerializer(ObjectPermissionSerializer):
    """The answer to a grant or revoke: ``changed`` is false when nothing had to change."""

    changed = serializers.BooleanField()
