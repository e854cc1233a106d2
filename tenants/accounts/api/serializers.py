"""Shapes of tokens, users, roles and object permissions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from cameras.permissions import OBJECT_ACTIONS
from tenants.accounts.models import ApiToken
from tenants.accounts.tokens import TOKEN_DEFAULT_DAYS, TOKEN_MAX_DAYS
from tenants.constants import Role
from tenants.rest.json_fields import StrictBooleanField, StrictCharField, StrictIntegerField
from tenants.roles import user_role

ID_MAX = 2**63 - 1


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


class MeSerializer(serializers.Serializer):
    """The current user, its role, model permissions and how it authenticated."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    permissions = serializers.ListField(child=serializers.CharField())
    auth = serializers.ChoiceField(choices=["session", "token"])
    token = TokenOutputSerializer(allow_null=True)
