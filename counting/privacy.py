"""People blurred out of every camera picture the portal and the API show, per tenant.

A tenant's ``privacy_blur`` (on for new tenants) decides. The people are found by the same
person detector the counting uses (``counting.pipeline``), with a lower score threshold than
counting (a missed person is a privacy failure, a blurred sign is not), and pixelated
(``counting.pipeline.privacy.blur_boxes``). Fail closed: when the picture cannot be blurred
(no model, a decoding error) it is not shown, and :class:`PrivacyBlurError` says why.

The detector is loaded once per process, on the first picture (a web process that never
shows one never pays for it), and used under a lock (a snapshot a minute, not a stream).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

# Lower than counting's threshold: blurring a false positive costs nothing.
PRIVACY_SCORE_THRESHOLD = 0.15
JPEG_QUALITY = 85

_lock = threading.Lock()
_detector: Any = None


class PrivacyBlurError(Exception):
    """The picture could not be blurred, so it is not shown (the message says why)."""


@dataclass(frozen=True, slots=True)
class BlurredPicture:
    """A JPEG as it may be shown, with how many people were blurred in it (None: not asked)."""

    jpeg: bytes
    width: int
    height: int
    people: int | None


def privacy_blur_required() -> bool:
    """Whether the current tenant blurs people (True when unsure: fail closed)."""
    tenant = getattr(connection, "tenant", None)
    return bool(getattr(tenant, "privacy_blur", True))


def _privacy_detector() -> Any:
    """The process's privacy detector. On a streams node (``COUNTING_INFERENCE = "service"``
    and the node's inference service listening) it is a client of that service, so a stream
    runner's snapshots do not load a model copy of their own in every runner process; else
    the model is loaded here."""
    global _detector
    if _detector is None:
        from pathlib import Path

        socket_path = Path(getattr(settings, "COUNTING_INFERENCE_SOCKET", "") or "")
        if settings.COUNTING_INFERENCE == "service" and socket_path.is_socket():
            from dataclasses import replace

            from counting.inference import InferenceDetector
            from counting.runner.detector import settings_detector_spec

            spec = replace(settings_detector_spec(), score_threshold=PRIVACY_SCORE_THRESHOLD)
            _detector = InferenceDetector(spec, socket_path=socket_path, tenant="privacy",
                                          camera="snapshots",
                                          timeout_s=settings.COUNTING_INFERENCE_TIMEOUT_S)
        else:
            from counting.pipeline.detectors import create_detector
            from counting.runner.detector import node_precision

            _detector = create_detector(
                settings.COUNTING_MODEL_PATH, backend=settings.COUNTING_DETECTOR_BACKEND,
                score_threshold=PRIVACY_SCORE_THRESHOLD, device=settings.COUNTING_DEVICE,
                threads=settings.COUNTING_TORCH_THREADS,
                input_size=settings.COUNTING_DETECTOR_INPUT_SIZE, precision=node_precision())
    return _detector


def people_blur(image: Any) -> tuple[Any, int]:
    """``image`` (BGR) with every person found pixelated, and how many were."""
    from counting.pipeline.privacy import blur_boxes

    try:
        with _lock:
            detections = _privacy_detector().detect([image])[0]
    except (ValueError, OSError, RuntimeError) as exc:
        raise PrivacyBlurError(
            "People could not be blurred in this picture, so it is not shown "
            f"(the person detector failed: {exc}).") from exc
    return blur_boxes(image, detections.xyxy), len(detections)


def picture_for_display(*, image: Any, blur: bool | None = None) -> BlurredPicture:
    """Encode a BGR image for display, people blurred when the tenant asks for it."""
    import cv2

    blur = privacy_blur_required() if blur is None else blur
    people: int | None = None
    if blur:
        image, people = people_blur(image)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise PrivacyBlurError("The picture could not be encoded as JPEG.")
    return BlurredPicture(jpeg=encoded.tobytes(), width=int(image.shape[1]),
                          height=int(image.shape[0]), people=people)


def jpeg_for_display(jpeg: bytes, *, blur: bool | None = None) -> BlurredPicture:
    """A JPEG (a camera snapshot) as it may be shown: people blurred when the tenant asks."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise PrivacyBlurError("The camera's picture could not be decoded.")
    if not (privacy_blur_required() if blur is None else blur):
        return BlurredPicture(jpeg=jpeg, width=int(image.shape[1]), height=int(image.shape[0]),
                              people=None)
    return picture_for_display(image=image, blur=True)


def snapshot_filter(jpeg: bytes) -> bytes:
    """The filter registered with ``cameras.privacy`` (counting/apps.py)."""
    from cameras.privacy import PictureNotShown

    try:
        return jpeg_for_display(jpeg).jpeg
    except PrivacyBlurError as exc:
        raise PictureNotShown(str(exc)) from exc
