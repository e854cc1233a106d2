"""Portal URLs of the counting app (included by config/urls_tenant.py)."""

from django.urls import path

from counting import editor, views

urlpatterns = [
    path("cameras/<int:camera_id>/", views.camera_live, name="camera-live"),
    path("cameras/<int:camera_id>/health/", views.camera_health, name="camera-health"),
    path("cameras/<int:camera_id>/picture.jpg", views.camera_picture, name="camera-picture"),
    path("cameras/<int:camera_id>/picture/refresh/", views.camera_picture_refresh,
         name="camera-picture-refresh"),
    path("cameras/<int:camera_id>/editor/", editor.editor_page, name="camera-editor"),
    path("cameras/<int:camera_id>/editor/save/", editor.editor_save, name="camera-editor-save"),
]
