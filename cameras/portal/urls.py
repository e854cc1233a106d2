"""URLs of the site and camera management pages (included by config/urls_tenant.py)."""

from django.urls import path

from cameras.portal import access, views

urlpatterns = [
    path("manage/sites/", views.site_list, name="manage-sites"),
    path("manage/sites/new/", views.site_create, name="manage-site-add"),
    path("manage/sites/<int:site_id>/", views.site_edit, name="manage-site-edit"),
    path("manage/cameras/", views.camera_list, name="manage-cameras"),
    path("manage/cameras/new/", views.camera_create, name="manage-camera-add"),
    path("manage/sites/<int:site_id>/cameras/new/", views.camera_create,
         name="manage-camera-add-to-site"),
    path("manage/cameras/<int:camera_id>/", views.camera_edit, name="manage-camera-edit"),
    path("manage/cameras/<int:camera_id>/enable/", views.camera_set_enabled,
         {"enabled": True}, name="manage-camera-enable"),
    path("manage/cameras/<int:camera_id>/disable/", views.camera_set_enabled,
         {"enabled": False}, name="manage-camera-disable"),
    path("manage/cameras/test/", views.camera_test_connection, name="manage-camera-test-new"),
    path("manage/cameras/<int:camera_id>/test/", views.camera_test_connection,
         name="manage-camera-test"),
    path("manage/users/<int:user_id>/access/", access.user_access, name="manage-user-access"),
]
