"""Portal URLs of alerts (included under /alerts/ by config/urls_tenant.py)."""

from django.urls import path

from analytics.alerts.portal import views

urlpatterns = [
    path("", views.inbox, name="alerts"),
    path("<int:alert_id>/acknowledge/", views.acknowledge, name="alert-acknowledge"),
    path("rules/", views.rule_list, name="alert-rules"),
    path("rules/new/", views.rule_create, name="alert-rule-new"),
    path("rules/<int:rule_id>/", views.rule_edit, name="alert-rule-edit"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="alert-rule-delete"),
    path("endpoints/", views.endpoints, name="alert-endpoints"),
    path("deliveries/", views.delivery_log, name="alert-deliveries"),
]
