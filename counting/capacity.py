"""Stream slots: how many stream tasks the supervisor may send, and to which cameras.

Each live streams node advertises its slots and the slots in use (counting/nodes.py). A tick
may send ``free = slots - in use - dispatched but not started yet`` tasks. When more cameras
wait than that, slots go round robin across tenants, the tenant with the fewest cameras
running (plus already given this tick) first, so one tenant's many cameras never starve
another's one. Every camera left out is told why in its health ("waiting").
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Capacity:
    """The stream slots of the live nodes of one queue at the start of a tick."""

    nodes: int
    slots: int
    in_use: int
    pending: int = 0  # tasks sent earlier whose camera has no runner yet

    @property
    def free(self) -> int:
        return max(0, self.slots - self.in_use - self.pending)

    def waiting_reason(self) -> str:
        """The health reason of a camera left waiting (the portal explains it in plain words,
        counting/health_text.py)."""
        nodes = f"{self.nodes} node" + ("" if self.nodes == 1 else "s")
        slots = f"{self.slots} slot" + ("" if self.slots == 1 else "s")
        return (f"waiting for a stream slot: all {slots} on {nodes} are busy; add stream "
                "slots or nodes to run more cameras at once")


def fair_share(*, waiting: Mapping[str, Sequence[int]], running: Mapping[str, int],
               free: int) -> dict[str, list[int]]:
    """Choose at most ``free`` cameras from ``waiting`` (tenant -> camera ids, in order).

    Round robin across tenants: each slot goes to the tenant with the fewest cameras running
    plus chosen so far (ties: the tenant's name), taking its next waiting camera. Returns the
    chosen camera ids per tenant (every tenant of ``waiting`` is a key).
    """
    chosen: dict[str, list[int]] = {tenant: [] for tenant in waiting}
    heap = [(running.get(tenant, 0), tenant) for tenant, ids in waiting.items() if ids]
    heapq.heapify(heap)
    while heap and free > 0:
        load, tenant = heapq.heappop(heap)
        ids = waiting[tenant]
        taken = chosen[tenant]
        taken.append(ids[len(taken)])
        free -= 1
        if len(taken) < len(ids):
            heapq.heappush(heap, (load + 1, tenant))
    return chosen
