"""REST API settings (DRF, drf-spectacular, django-filter); imported by base.py."""

REST_FRAMEWORK: dict[str, object] = {}
