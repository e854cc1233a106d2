"""Each camera's last picture (CameraSnapshot): stored as it may be shown, read by the portal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from counting.models import CameraSnapshot
from counting.privacy import BlurredPicture, picture_for_display


def camera_snapshot_store(*, camera_id: int, picture: BlurredPicture,
                          taken_at: datetime | None = None) -> CameraSnapshot:
    """Replace the camera's stored picture with ``picture`` (already fit to show)."""
    snapshot, _ = CameraSnapshot.objects.update_or_create(
        camera_id=camera_id, defaults={
            "jpeg": picture.jpeg, "width": picture.width, "height": picture.height,
            "taken_at": taken_at or datetime.now(tz=UTC),
            "blurred": picture.people is not None, "people_blurred": picture.people})
    return snapshot


def camera_snapshot_from_image(*, camera_id: int, image: Any, blur: bool,
                               taken_at: datetime | None = None) -> CameraSnapshot:
    """Blur (when ``blur``), encode and store a BGR frame as the camera's last picture."""
    return camera_snapshot_store(camera_id=camera_id,
                                 picture=picture_for_display(image=image, blur=blur),
                                 taken_at=taken_at)


def camera_snapshot_get(*, camera_id: int) -> CameraSnapshot | None:
    """The camera's stored picture (callers have checked the user may see it)."""
    return CameraSnapshot.objects.filter(camera_id=camera_id).first()
