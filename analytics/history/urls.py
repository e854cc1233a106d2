"""URLs of the history page (included by config/urls_tenant.py)."""

from django.urls import path

from analytics.history import views

urlpatterns = [
    path("history/", views.history, name="history"),
    path("history/export.csv", views.history_csv, name="history-csv"),
    path("history/export.<str:fmt>", views.history_file, name="history-file"),
]
