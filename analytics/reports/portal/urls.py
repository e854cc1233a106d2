"""Portal URLs of reports (included under /reports/ by config/urls_tenant.py)."""

from django.urls import path

from analytics.reports.portal import views

urlpatterns = [
    path("", views.report_list, name="reports"),
    path("schedules/new/", views.schedule_create, name="report-schedule-new"),
    path("schedules/<int:schedule_id>/", views.schedule_edit, name="report-schedule-edit"),
    path("schedules/<int:schedule_id>/delete/", views.schedule_delete,
         name="report-schedule-delete"),
    path("exports/new/", views.export_new, name="report-export-new"),
    path("exports/<uuid:export_id>/", views.export_detail, name="report-export"),
    path("exports/download/<str:token>/", views.export_download,
         name="report-export-download"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="report-unsubscribe"),
]
