"""The runner's hold on its camera: acquire, heartbeat and release one lease generation."""

from __future__ import annotations

from counting.leases import LeaseTaken, lease_acquire, lease_heartbeat, lease_release


class LeaseLostError(RuntimeError):
    """Another runner took the camera over; this one must stop without writing."""


class LeaseKeeper:
    """Holds one camera's lease for one run; ``generation`` is the fencing token every ledger
    write of the run carries (0 until acquired)."""

    def __init__(self, *, camera_id: int, owner: str, ttl_s: float) -> None:
        self.camera_id = camera_id
        self.owner = owner
        self.ttl_s = ttl_s
        self.generation = 0

    def acquire(self) -> LeaseTaken | None:
        """Take the lease (None: someone else holds a live one)."""
        taken = lease_acquire(camera_id=self.camera_id, owner=self.owner, ttl_s=self.ttl_s)
        if taken is not None:
            self.generation = taken.generation
        return taken

    def heartbeat(self) -> None:
        """Renew the lease; raises :class:`LeaseLostError` when it was taken over."""
        if not lease_heartbeat(camera_id=self.camera_id, owner=self.owner,
                               generation=self.generation):
            raise LeaseLostError("heartbeat refused: the lease was taken over")

    def release(self) -> bool:
        """Give the lease up so that another runner can take the camera at once."""
        return lease_release(camera_id=self.camera_id, owner=self.owner,
                             generation=self.generation)
