"""Writes to sites and cameras: validated, in one transaction, each with one audit event."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import ProtectedError, RestrictedError, Sum

from audit.services import audit_record
from cameras.models import Camera, Site
from cameras.url_secrets import Secrets, UrlSecretsError, split_url_secrets
from cameras.validators import (
    validate_camera_url,
    validate_detect_fps,
    validate_opening_hours,
    validate_timezone,
)
from tenants.db import tenant_quota

_UNSET: Any = object()


def _site_values(site: Site) -> dict[str, Any]:
    return {"name": site.name, "address": site.address, "timezone": site.timezone,
            "opening_hours": site.opening_hours}


def _require_name(name: str, field: str = "name") -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({field: ["This field may not be blank."]})
    if len(name) > 200:
        raise ValidationError({field: ["At most 200 characters."]})
    return name


def _collect(errors: dict[str, list[str]], field: str, func: Any, value: Any) -> Any:
    try:
        return func(value)
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)
        return None


@transaction.atomic
def site_create(*, actor: Any, name: str, timezone: str = "UTC", address: str = "",
                opening_hours: dict[str, Any] | None = None) -> Site:
    """Create a site."""
    errors: dict[str, list[str]] = {}
    name = _collect(errors, "name", _require_name, name)
    timezone = _collect(errors, "timezone", validate_timezone, timezone)
    hours = _collect(errors, "opening_hours", validate_opening_hours, opening_hours)
    if errors:
        raise ValidationError(errors)
    site = Site.objects.create(name=name, timezone=timezone, address=(address or "").strip(),
                               opening_hours=hours or {})
    audit_record(action="site.create", target=site, after=_site_values(site), actor=actor)
    return site


@transaction.atomic
def site_update(*, actor: Any, site: Site, name: str = _UNSET, timezone: str = _UNSET,
                address: str = _UNSET, opening_hours: dict[str, Any] = _UNSET) -> Site:
    """Change a site's fields; only the given ones change."""
    site = Site.objects.select_for_update().get(pk=site.pk)
    before = _site_values(site)
    errors: dict[str, list[str]] = {}
    if name is not _UNSET:
        site.name = _collect(errors, "name", _require_name, name)
    if timezone is not _UNSET:
        site.timezone = _collect(errors, "timezone", validate_timezone, timezone)
    if address is not _UNSET:
        site.address = (address or "").strip()
    if opening_hours is not _UNSET:
        site.opening_hours = _collect(errors, "opening_hours", validate_opening_hours,
                                      opening_hours)
    if errors:
        raise ValidationError(errors)
    site.save()
    audit_record(action="site.update", target=site, before=before, after=_site_values(site),
                 actor=actor)
    return site


@transaction.atomic
def site_delete(*, actor: Any, site: Site) -> None:
    """Delete a site that has no cameras left."""
    if site.cameras.exists():
        raise ValidationError({"site": ["Delete or move this site's cameras first."]})
    before = _site_values(site)
    site_id = site.pk
    site.delete()
    audit_record(action="site.delete", target_type="cameras.site", target_id=str(site_id),
                 before=before, actor=actor)


def _lock_camera_quotas() -> None:
    # Serialise the tenant's quota checks (camera count, analysed fps) between transactions.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':cameras'))")


def _check_fps_quota(*, detect_fps: float, exclude_pk: int | None) -> None:
    """The enabled cameras' detect_fps, with this one's, fit the tenant's analysed-fps quota."""
    quota = tenant_quota("fps_quota")
    if quota is None:
        return
    others = Camera.objects.filter(enabled=True)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    used = float(others.aggregate(total=Sum("detect_fps"))["total"] or 0.0)
    if used + detect_fps > quota + 1e-9:
        free = max(0.0, quota - used)
        raise ValidationError({"detect_fps": [
            f"Your plan allows {quota} analysed frames per second over all enabled cameras; "
            f"the others use {used:g}, so this camera can have at most {free:g}. Lower "
            "detect_fps, disable another camera, or upgrade the plan."]})


def camera_fps_check(*, detect_fps: float, enabled: bool, camera: Camera | None) -> None:
    """Validate a camera's new ``detect_fps``/``enabled`` against the analysed-fps quota
    (admin and portal forms call it to show the error on the form); raises ValidationError."""
    if not enabled:
        return
    if camera is not None and camera.pk is not None:
        stored = Camera.objects.filter(pk=camera.pk).values("enabled", "detect_fps").first()
        if stored and stored["enabled"] and detect_fps <= stored["detect_fps"]:
            return  # analyses no more than before
    _check_fps_quota(detect_fps=detect_fps, exclude_pk=camera.pk if camera else None)


def _camera_quota() -> int | None:
    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "camera_quota", None)


def _camera_url(value: str, stored: Secrets) -> tuple[str, Secrets]:
    """The URL to store (query-string credentials replaced by placeholders, checked against
    the URL policy) and its credentials to store encrypted."""
    if not isinstance(value, str):
        raise ValidationError("Enter a stream URL.", code="url_refused")
    try:
        url, secrets = split_url_secrets(value, stored=stored)
    except UrlSecretsError as exc:
        raise ValidationError(str(exc), code="url_secret_missing") from exc
    return validate_camera_url(url), secrets


def _require_active_model(model: Any) -> Any:
    """A camera's own model must be an active registry model (None: the default applies)."""
    if model is None:
        return None
    from cameras.selectors import ai_models_choosable

    if not ai_models_choosable().filter(pk=getattr(model, "pk", None)).exists():
        raise ValidationError(
            f"{model} is not an active detector model: choose an active one, or none for the "
            "default (platform staff activate models in the registry).")
    return model


@transaction.atomic
def camera_create(*, actor: Any, site: Site, name: str, stream_url: str, username: str = "",
                  password: str = "", detect_fps: float = 5.0, enabled: bool = True,
                  ai_model: Any = None) -> Camera:
    """Add a camera to a site, within the tenant's camera quota. Query-string credentials of
    ``stream_url`` are stored encrypted (:mod:`cameras.url_secrets`). ``ai_model``: the
    camera's own detector model (an active registry model), or None for the default."""
    errors: dict[str, list[str]] = {}
    name = _collect(errors, "name", _require_name, name)
    checked = _collect(errors, "stream_url", lambda v: _camera_url(v, []), stream_url)
    detect_fps = _collect(errors, "detect_fps", validate_detect_fps, detect_fps)
    ai_model = _collect(errors, "ai_model", _require_active_model, ai_model)
    if errors:
        raise ValidationError(errors)
    _lock_camera_quotas()
    quota = _camera_quota()
    if quota is not None and Camera.objects.count() >= quota:
        raise ValidationError({"site": [
            f"Your plan allows {quota} cameras and all are in use: remove one or upgrade."]})
    if enabled:
        _check_fps_quota(detect_fps=detect_fps, exclude_pk=None)
    stream_url, url_secrets = checked
    camera = Camera(site=site, name=name, stream_url=stream_url, username=username.strip(),
                    detect_fps=detect_fps, enabled=enabled, ai_model=ai_model)
    camera.password = password
    camera.url_secrets = url_secrets
    camera.save()
    audit_record(action="camera.create", target=camera, after=camera.audit_values(), actor=actor)
    return camera


@transaction.atomic
def camera_update(*, actor: Any, camera: Camera, name: str = _UNSET, stream_url: str = _UNSET,
                  username: str = _UNSET, password: str = _UNSET, detect_fps: float = _UNSET,
                  enabled: bool = _UNSET, site: Site = _UNSET, ai_model: Any = _UNSET) -> Camera:
    """Change a camera; only the given fields change. An empty password clears it; a
    query-string credential given as ``***`` (as shown) keeps its stored value. ``ai_model``
    None goes back to the tenant's or plan's model; a model must be active to be chosen (a
    running stream switches to it within seconds, counting/runner/model_watch.py)."""
    camera = Camera.objects.select_for_update().get(pk=camera.pk)
    before = camera.audit_values()
    errors: dict[str, list[str]] = {}
    secrets_changed = False
    if name is not _UNSET:
        camera.name = _collect(errors, "name", _require_name, name)
    if stream_url is not _UNSET:
        stored = camera.url_secrets
        checked = _collect(errors, "stream_url", lambda v: _camera_url(v, stored), stream_url)
        if checked is not None:
            camera.stream_url, url_secrets = checked
            if url_secrets != stored:
                camera.url_secrets = url_secrets
                secrets_changed = True
    if detect_fps is not _UNSET:
        camera.detect_fps = _collect(errors, "detect_fps", validate_detect_fps, detect_fps)
    if ai_model is not _UNSET and getattr(ai_model, "pk", None) != camera.ai_model_id:
        camera.ai_model = _collect(errors, "ai_model", _require_active_model, ai_model)
    if errors:
        raise ValidationError(errors)
    if username is not _UNSET:
        camera.username = (username or "").strip()
    if password is not _UNSET:
        camera.password = password or ""
    if enabled is not _UNSET:
        camera.enabled = bool(enabled)
    if site is not _UNSET:
        camera.site = site
    after = camera.audit_values()
    if after == before and password is _UNSET and not secrets_changed:
        return camera
    if camera.enabled and (not before["enabled"] or camera.detect_fps > before["detect_fps"]):
        # Only a change that analyses more is checked: lowering or disabling always works,
        # even for a tenant already above a quota that was lowered.
        _lock_camera_quotas()
        _check_fps_quota(detect_fps=camera.detect_fps, exclude_pk=camera.pk)
    camera.save()
    action = "camera.update"
    if enabled is not _UNSET and set(k for k in after if after[k] != before[k]) == {"enabled"}:
        action = "camera.enable" if camera.enabled else "camera.disable"
    audit_record(action=action, target=camera, before=before, after=after, actor=actor)
    return camera


@transaction.atomic
def camera_delete(*, actor: Any, camera: Camera) -> None:
    """Delete a camera that has never counted anything.

    Counts are a ledger that must outlive edits, so a camera with stored crossings is refused:
    disable it instead (it stops streaming and keeps its history). The refusal comes from the
    foreign keys: the ledger and its rollups point at the camera (and its lines and zones)
    with ``on_delete=PROTECT``, so this module needs to know nothing of who stores counts.
    """
    before = camera.audit_values()
    camera_id = camera.pk
    try:
        camera.delete()
    except (ProtectedError, RestrictedError) as exc:
        # Raised by the deletion collector before any row is deleted.
        raise ValidationError(
            "This camera has stored counts and cannot be deleted; disable it instead to stop "
            "counting and keep its history.", code="conflict") from exc
    audit_record(action="camera.delete", target_type="cameras.camera", target_id=str(camera_id),
                 before=before, actor=actor)


def camera_status_set(*, camera_id: int, status: str, reason: str = "") -> None:
    """Mirror a stream's health state on the camera (``status``, ``status_reason``) so lists
    of cameras show it without a join.

    Written by the stream runner's health reports, not by a person: no audit event, and
    ``updated_at`` is left alone because the runner watches it for edits of the camera's
    stream settings (an update of the status must not look like one).
    """
    from cameras.constants import CameraStatus

    if status not in CameraStatus.values:
        raise ValueError(f"unknown camera status {status!r}")
    Camera.objects.filter(pk=camera_id).update(status=status, status_reason=reason[:500])
