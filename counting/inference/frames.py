"""Frames in shared memory: each client owns one segment, the service maps it.

The client writes its frames (BGR uint8, HxWx3) one after the other into its segment and sends
their offsets and shapes; the service reads them in place (numpy views, no copy) while the
client waits for the reply, so a segment is never written while the service reads it. A frame
batch that does not fit replaces the segment with a larger one (the service is told).

The service attaches without Python's resource tracker: the segment belongs to the client,
whose worker's tracker unlinks it if the client dies without closing it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from multiprocessing import resource_tracker, shared_memory

import numpy as np

from counting.pipeline.types import ImageArray

#: Room for one 1080p frame before any segment has to grow.
MIN_SEGMENT = 1920 * 1080 * 3
ALIGN = 64


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class ClientSegment:
    """The client's side: a segment it creates, grows and unlinks."""

    def __init__(self, size: int = MIN_SEGMENT) -> None:
        self.shm = self._create(size)

    @staticmethod
    def _create(size: int) -> shared_memory.SharedMemory:
        return shared_memory.SharedMemory(name=f"cnt-inf-{os.getpid()}-{secrets.token_hex(4)}",
                                          create=True, size=max(size, MIN_SEGMENT))

    @property
    def name(self) -> str:
        return self.shm.name

    def write(self, images: Sequence[ImageArray]) -> tuple[list[list[int]], bool]:
        """Copy ``images`` in; returns ``[[offset, height, width], ...]`` and whether the
        segment was replaced (it was too small)."""
        layout: list[list[int]] = []
        offset = 0
        for img in images:
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise ValueError(f"expected an HxWx3 uint8 BGR image, got {img.dtype} "
                                 f"{img.shape}")
            layout.append([offset, int(img.shape[0]), int(img.shape[1])])
            offset = _aligned(offset + img.nbytes)
        grown = offset > self.shm.size
        if grown:
            self.close()
            self.shm = self._create(offset * 2)
        for img, (off, h, w) in zip(images, layout, strict=True):
            view = np.ndarray((h, w, 3), np.uint8, buffer=self.shm.buf, offset=off)
            view[...] = img
            del view
        return layout, grown

    def close(self) -> None:
        try:
            self.shm.close()
            self.shm.unlink()
        except FileNotFoundError:
            pass


class ServerSegment:
    """The service's view of a client's segment."""

    def __init__(self, name: str) -> None:
        self.shm = shared_memory.SharedMemory(name=name)
        # Not ours to unlink at exit (Python < 3.13 registers every attach with its tracker),
        # unless the client is this very process (a test), whose registration it is.
        if not name.startswith(f"cnt-inf-{os.getpid()}-"):
            resource_tracker.unregister(self.shm._name,  # type: ignore[attr-defined]
                                        "shared_memory")

    def frames(self, layout: list[list[int]]) -> list[ImageArray]:
        """Views of the frames (valid until the reply is sent)."""
        out: list[ImageArray] = []
        for item in layout:
            if len(item) != 3 or not all(isinstance(v, int) and v >= 0 for v in item):
                raise ValueError(f"bad frame layout {item!r}: expected [offset, height, width]")
            off, h, w = item
            if h == 0 or w == 0 or off + h * w * 3 > self.shm.size:
                raise ValueError(f"frame {item!r} does not fit the {self.shm.size}-byte segment")
            out.append(np.ndarray((h, w, 3), np.uint8, buffer=self.shm.buf, offset=off))
        return out

    def close(self) -> None:
        try:
            self.shm.close()
        except BufferError:  # a view still alive (a batch in flight): the mapping goes with it
            pass
