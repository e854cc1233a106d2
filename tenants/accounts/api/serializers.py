"""Shapes of the current user, tokens, users and roles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from tenants.accounts.models import ApiToken
from tenants.accounts.roles import user_role
from tenants.accounts.tokens import TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS
from tenants.constants import Role
from tenants.rest.json_fields import StrictBooleanField, StrictCharField, StrictIntegerField


class TokenOutputSerializer(serializers.ModelSerializer):
    """A token as listed: never its secret."""

    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at",
                  "revoked_at", "is_active"]
        read_only_fields = fields


class TokenCreatedSerializer(TokenOutputSerializer):
    """A token just created: ``token`` is the full secret, shown this once only."""

    token = serializers.CharField(read_only=True,
                                  help_text="Shown once: store it now, it cannot be read again.")

    class Meta(TokenOutputSerializer.Meta):
        fields = [*TokenOutputSerializer.Meta.fields, "token"]
        read_only_fields = fields


class TokenInputSerializer(serializers.Serializer):
    """A new token: your password again (guarded against guessing), a name and a lifetime."""

    name = StrictCharField(max_length=100)
    expires_in_days = StrictIntegerField(min_value=1, max_value=TOKEN_MAX_DAYS,
                                         default=TOKEN_DEFAULT_DAYS)
    password = StrictCharField(max_length=200, write_only=True,
                               style={"input_type": "password"})


class UserOutputSerializer(serializers.ModelSerializer):
    """A user of the tenant with its role."""

    role = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name", "is_active", "role",
                  "date_joined", "last_login"]
        read_only_fields = fields

    def get_role(self, user: Any) -> str | None:
        return user_role(user)


class UserInputSerializer(serializers.Serializer):
    """A new user: e-mail (also the username), password and role."""

    email = StrictCharField(max_length=254)
    password = StrictCharField(max_length=200, write_only=True,
                               style={"input_type": "password"})
    role = serializers.ChoiceField(choices=Role.ALL, default=Role.VIEWER)
    first_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=150, required=False, allow_blank=True)


class UserUpdateSerializer(serializers.Serializer):
    """A change of role, activity or name; the last active Owner cannot be demoted."""

    role = serializers.ChoiceField(choices=Role.ALL, required=False)
    is_active = StrictBooleanField(required=False)
    first_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=150, required=False, allow_blank=True)


class RoleSerializer(serializers.Serializer):
    """A built-in role (a group): its id is used to grant object permissions to the group."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    permissions = serializers.ListField(child=serializers.CharField())
    user_count = serializers.IntegerField()


class PasswordChangeSerializer(serializers.Serializer):
    """Your current password (guarded against guessing) and the new one."""

    current_password = StrictCharField(max_length=200, write_only=True,
                                       style={"input_type": "password"})
    new_password = StrictCharField(max_length=200, write_only=True,
                                   style={"input_type": "password"})


class RetentionSerializer(serializers.Serializer):
    """How long the organisation's data is kept, in days (null: kept for good)."""

    crossing_events_days = serializers.IntegerField(
        help_text="Raw crossings; their hour counts stay when they go.")
    minute_counts_days = serializers.IntegerField(
        help_text="Per-minute counts of lines; hour counts stay when they go.")
    health_events_days = serializers.IntegerField(help_text="Camera health history.")
    audit_events_days = serializers.IntegerField(
        help_text="Audit log; the oldest go as a verifiable prefix of its hash chain.")
    hour_and_day_counts_days = serializers.IntegerField(allow_null=True)
    zone_occupancy_minutes_days = serializers.IntegerField(allow_null=True)


class MeSerializer(serializers.Serializer):
    """The current user, its role, model permissions and how it authenticated, and how long
    the organisation's data is kept."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    permissions = serializers.ListField(child=serializers.CharField())
    auth = serializers.ChoiceField(choices=["session", "token"])
    token = TokenOutputSerializer(allow_null=True)
    retention = RetentionSerializer()
