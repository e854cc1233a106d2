"""Portal URLs of the cameras app (included by config/urls_tenant.py).

The dashboard moved to analytics/portal/ (it reads counts, which cameras may not import).
"""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
