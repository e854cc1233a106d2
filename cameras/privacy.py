"""The privacy filter every camera picture passes before anyone sees it.

People are blurred by the person detector, which lives in ``counting`` (a room above this one);
``counting`` registers its filter here when the apps are ready (counting/apps.py), so the
cameras app (the API snapshot, the "test connection" of Manage) applies it without importing
counting. With no filter registered, a picture is refused rather than shown unblurred.
"""

from __future__ import annotations

from collections.abc import Callable

# jpeg in -> jpeg to show (people blurred when the tenant asks); raises PictureNotShown.
SnapshotFilter = Callable[[bytes], bytes]

_filter: SnapshotFilter | None = None


class PictureNotShown(Exception):
    """The picture could not be made fit to show (its people could not be blurred)."""


def snapshot_filter_register(function: SnapshotFilter) -> None:
    """Install the process's privacy filter (counting/apps.py does, at start-up)."""
    global _filter
    _filter = function


def snapshot_for_display(jpeg: bytes) -> bytes:
    """``jpeg`` as it may be shown to a user of the current tenant."""
    if _filter is None:
        raise PictureNotShown("The privacy filter is not installed, so no picture is shown.")
    return _filter(jpeg)
