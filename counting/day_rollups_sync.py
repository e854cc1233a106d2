"""Day rollups follow their site's timezone: when a site's timezone changes, or a camera moves
to a site in another timezone, the local days of its lines are rebuilt from the hour rollups
(:func:`counting.rollups.line_day_rollups_rebuild`), in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from cameras.models import Camera, Site
from counting.rollups import line_day_rollups_rebuild


@receiver(pre_save, sender=Site, dispatch_uid="counting.day_rollups.site_pre")
def _site_before(sender: Any, instance: Site, **kwargs: Any) -> None:
    instance._day_rollups_tz = (  # type: ignore[attr-defined]
        Site.objects.filter(pk=instance.pk).values_list("timezone", flat=True).first()
        if instance.pk else None)


@receiver(post_save, sender=Site, dispatch_uid="counting.day_rollups.site_post")
def _site_after(sender: Any, instance: Site, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_day_rollups_tz", None)
    if not created and before is not None and before != instance.timezone:
        line_day_rollups_rebuild(
            camera_ids=list(Camera.objects.filter(site_id=instance.pk)
                            .values_list("pk", flat=True)),
            timezone=instance.timezone)


@receiver(pre_save, sender=Camera, dispatch_uid="counting.day_rollups.camera_pre")
def _camera_before(sender: Any, instance: Camera, **kwargs: Any) -> None:
    instance._day_rollups_tz = (  # type: ignore[attr-defined]
        Camera.objects.filter(pk=instance.pk).values_list("site__timezone", flat=True).first()
        if instance.pk else None)


@receiver(post_save, sender=Camera, dispatch_uid="counting.day_rollups.camera_post")
def _camera_after(sender: Any, instance: Camera, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_day_rollups_tz", None)
    if created or before is None:
        return
    now = Site.objects.filter(pk=instance.site_id).values_list("timezone", flat=True).first()
    if now is not None and now != before:
        line_day_rollups_rebuild(camera_ids=[instance.pk], timezone=now)
