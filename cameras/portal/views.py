"""Managing sites and cameras in the portal: lists, forms, enable/disable, test connection.

Every write goes through :mod:`cameras.services` (validated, one audit event each). A user
sees a site or camera here only with the change permission on it (model-level for Owner and
Manager, per object for a Viewer who was granted it); anything else is a 404, as in the API.
"""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from cameras import services
from cameras.portal.forms import CameraForm, ConnectionTestForm, SiteForm, apply_errors
from cameras.privacy import PictureNotShown, snapshot_for_display
from cameras.selectors import camera_list_visible_to, site_list_visible_to
from cameras.streams import stream_target
from cameras.url_policy import StreamUrlRefused

CONNECTION_TEST_TIMEOUT_S = 8.0


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied("Your role does not allow this; ask an Owner of your organisation.")


# -- sites ------------------------------------------------------------------------------------
@login_required
def site_list(request: HttpRequest) -> HttpResponse:
    """The sites the user may change, with their timezone, hours and camera count."""
    sites = site_list_visible_to(user=request.user, perm="change")
    return render(request, "cameras/manage/site_list.html", {
        "sites": sites, "can_add": request.user.has_perm("cameras.add_site")})


@login_required
def site_create(request: HttpRequest) -> HttpResponse:
    """Add a site (Owner, Manager)."""
    _require(request, "cameras.add_site")
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            site = services.site_create(actor=request.user, name=data["name"],
                                        address=data["address"], timezone=data["timezone"],
                                        opening_hours=data["opening_hours"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Site “{site.name}” added. Now add its cameras.")
            return redirect("manage-camera-add-to-site", site_id=site.pk)
    return render(request, "cameras/manage/site_form.html", {"form": form, "site": None})


@login_required
def site_edit(request: HttpRequest, site_id: int) -> HttpResponse:
    """Change a site's name, address, timezone and opening hours."""
    site = site_list_visible_to(user=request.user, perm="change").filter(pk=site_id).first()
    if site is None:
        raise Http404("No such site.")
    form = SiteForm(request.POST or None, initial=SiteForm.initial_from(site))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.site_update(actor=request.user, site=site, name=data["name"],
                                 address=data["address"], timezone=data["timezone"],
                                 opening_hours=data["opening_hours"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Site saved.")
            return redirect("manage-sites")
    return render(request, "cameras/manage/site_form.html", {"form": form, "site": site})


# -- cameras ----------------------------------------------------------------------------------
@login_required
def camera_list(request: HttpRequest) -> HttpResponse:
    """The cameras the user may change, with status and enable/disable buttons."""
    cameras = camera_list_visible_to(user=request.user, perm="change")
    return render(request, "cameras/manage/camera_list.html", {
        "cameras": cameras, "can_add": request.user.has_perm("cameras.add_camera"),
        "generated_at": timezone.now()})


def _camera_sites(request: HttpRequest) -> Any:
    return site_list_visible_to(user=request.user, perm="change")


@login_required
def camera_create(request: HttpRequest, site_id: int | None = None) -> HttpResponse:
    """Add a camera to a site (Owner, Manager), within the plan's camera quota."""
    _require(request, "cameras.add_camera")
    sites = _camera_sites(request)
    if not sites.exists():
        messages.info(request, "Add a site first: every camera belongs to a site.")
        return redirect("manage-site-add")
    initial = {"site": site_id} if site_id else {}
    form = CameraForm(request.POST or None, sites=sites, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            camera = services.camera_create(
                actor=request.user, site=data["site"], name=data["name"],
                stream_url=data["stream_url"], username=data["username"],
                password=data["password"], detect_fps=data["detect_fps"],
                enabled=data["enabled"], ai_model=data["ai_model"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Camera “{camera.name}” added.")
            return redirect("manage-camera-edit", camera_id=camera.pk)
    return render(request, "cameras/manage/camera_form.html", {"form": form, "camera": None})


def _changeable_camera(request: HttpRequest, camera_id: int) -> Any:
    camera = camera_list_visible_to(user=request.user, perm="change").filter(
        pk=camera_id).first()
    if camera is None:
        raise Http404("No such camera.")
    return camera


@login_required
def camera_edit(request: HttpRequest, camera_id: int) -> HttpResponse:
    """Change a camera; an empty password keeps the stored one."""
    camera = _changeable_camera(request, camera_id)
    sites = _camera_sites(request)
    if not sites.filter(pk=camera.site_id).exists():
        # A Viewer may have change on the camera only: it stays on its site.
        sites = type(camera.site).objects.filter(pk=camera.site_id)
    initial = {"site": camera.site_id, "name": camera.name, "stream_url": camera.stream_url,
               "username": camera.username, "detect_fps": camera.detect_fps,
               "enabled": camera.enabled, "ai_model": camera.ai_model_id}
    form = CameraForm(request.POST or None, sites=sites, initial=initial,
                      has_password=camera.has_password)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes: dict[str, Any] = {
            "name": data["name"], "stream_url": data["stream_url"],
            "username": data["username"], "detect_fps": data["detect_fps"],
            "enabled": data["enabled"], "ai_model": data["ai_model"]}
        if data["site"].pk != camera.site_id:
            changes["site"] = data["site"]
        if data.get("clear_password"):
            changes["password"] = ""
        elif data["password"]:
            changes["password"] = data["password"]
        try:
            services.camera_update(actor=request.user, camera=camera, **changes)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Camera saved.")
            return redirect("manage-cameras")
    return render(request, "cameras/manage/camera_form.html", {"form": form, "camera": camera})


@require_POST
@login_required
def camera_set_enabled(request: HttpRequest, camera_id: int, enabled: bool) -> HttpResponse:
    """Enable or disable counting on a camera (its stream starts or stops within seconds)."""
    camera = _changeable_camera(request, camera_id)
    try:
        services.camera_update(actor=request.user, camera=camera, enabled=enabled)
    except ValidationError as exc:  # e.g. enabling it would exceed the plan's analysed fps
        messages.error(request, f"“{camera.name}” was not enabled: {' '.join(exc.messages)}")
        return redirect("manage-cameras")
    messages.success(request, f"“{camera.name}” is {'enabled' if enabled else 'disabled'}: "
                              f"counting {'starts' if enabled else 'stops'} within a few "
                              "seconds.")
    return redirect("manage-cameras")


@require_POST
@login_required
def camera_test_connection(request: HttpRequest, camera_id: int | None = None) -> HttpResponse:
    """Try to read one frame with the address and credentials in the form.

    For a saved camera an empty password means the stored one. The answer is a snapshot or the
    reason in plain words; nothing is saved.
    """
    from cameras.api.snapshot import SnapshotError, snapshot_from_target

    camera = _changeable_camera(request, camera_id) if camera_id else None
    if camera is None:
        _require(request, "cameras.add_camera")
    form = ConnectionTestForm(request.POST)
    context: dict[str, Any] = {"ok": False}
    if not form.is_valid():
        context["reason"] = "Give the stream address first."
    else:
        data = form.cleaned_data
        password = data["password"] or (camera.password if camera and camera.has_password
                                         and not request.POST.get("clear_password") else "")
        try:
            target = stream_target(url=data["stream_url"].strip(), username=data["username"],
                                   password=password)
            snapshot = snapshot_from_target(target=target, timeout_s=CONNECTION_TEST_TIMEOUT_S)
        except StreamUrlRefused as exc:
            context["reason"] = f"This address may not be used: {exc}"
        except SnapshotError as exc:
            context["reason"] = str(exc)
        else:
            try:
                jpeg = snapshot_for_display(snapshot.jpeg)  # people blurred (privacy setting)
            except PictureNotShown as exc:
                context["reason"] = f"The camera answered. {exc}"
            else:
                context.update(ok=True, width=snapshot.width, height=snapshot.height,
                               image=base64.b64encode(jpeg).decode("ascii"))
    template = ("cameras/manage/_connection_result.html" if request.headers.get("HX-Request")
                else "cameras/manage/connection_result.html")
    return render(request, template, context)
