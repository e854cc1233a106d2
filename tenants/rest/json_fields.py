"""Serializer fields for JSON request bodies that accept only the JSON type they document.

DRF coerces on input: ``"name": 312`` becomes ``"312"``, ``"site": "7"`` becomes 7 and
``"enabled": "yes"`` becomes True. The API parses JSON only and its schema states each field's
type, so a value of another type is a client error (400 with the field named), not a guess.
Query parameters are strings by nature and keep DRF's plain fields.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string field that rejects numbers, booleans and composites."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class StrictIntegerField(serializers.IntegerField):
    """An integer field that rejects strings, booleans and floats (even 2.0)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class StrictFloatField(serializers.FloatField):
    """A number field that accepts JSON integers and floats but not strings or booleans."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class StrictBooleanField(serializers.BooleanField):
    """A boolean field that accepts only true and false (not "yes", 1 or "true")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
