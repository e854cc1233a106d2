"""Per-tenant fairness for the inference service's batches.

Requests wait per tenant, then per camera. :meth:`FairQueue.take` fills a batch by round robin:
one request from the next tenant in turn, from that tenant's next camera in turn, and so on, so
a tenant with forty cameras gets as many places in a busy batch as a tenant with one, and among
one tenant's cameras every camera gets its turn. The turn order carries over between batches.
When the node cannot keep up, every runner waits a little longer for its reply and analyses
fewer frames; no camera is skipped for long.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One client's frames waiting for the detector."""

    tenant: str
    camera: str
    frames: int
    item: Any
    queued_at: float = field(default_factory=time.monotonic)


class FairQueue:
    """Waiting requests: round robin over tenants, then over each tenant's cameras."""

    def __init__(self) -> None:
        self._tenants: OrderedDict[str, OrderedDict[str, deque[Request]]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def frames(self) -> int:
        """Frames waiting in all requests."""
        return sum(r.frames for cams in self._tenants.values() for q in cams.values() for r in q)

    def oldest(self) -> float | None:
        """When the longest-waiting request was queued (monotonic), None if empty."""
        times = [q[0].queued_at for cams in self._tenants.values() for q in cams.values() if q]
        return min(times) if times else None

    def put(self, request: Request) -> None:
        cams = self._tenants.setdefault(request.tenant, OrderedDict())
        cams.setdefault(request.camera, deque()).append(request)
        self._count += 1

    def take(self, max_frames: int) -> list[Request]:
        """The next batch: at least one request (if any wait), at most ``max_frames`` frames
        otherwise."""
        out: list[Request] = []
        frames = 0
        while self._tenants:
            tenant, cams = next(iter(self._tenants.items()))
            camera, queue = next(iter(cams.items()))
            if out and frames + queue[0].frames > max_frames:
                break
            request = queue.popleft()
            out.append(request)
            frames += request.frames
            self._count -= 1
            # this camera and this tenant go to the back of their turns
            if queue:
                cams.move_to_end(camera)
            else:
                del cams[camera]
            if cams:
                self._tenants.move_to_end(tenant)
            else:
                del self._tenants[tenant]
            if frames >= max_frames:
                break
        return out
