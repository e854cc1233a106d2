"""Live updates of one camera: stored crossings and zone occupancy to the browsers."""

from __future__ import annotations

from cameras.models import Camera
from counting.ledger import LedgerEvent, WriteResult
from counting.live.publish import publish_camera_counts


class LivePublisher:
    """Publishes what the ledger stored (after its commit) with the latest zone occupancy, and
    occupancy changes that no batch carried yet."""

    def __init__(self, *, schema: str, camera: Camera) -> None:
        self.schema = schema
        self.camera = camera
        self.occupancy: dict[int, int] = {}
        self.published_occupancy: dict[int, int] = {}

    def occupancy_set(self, zone_id: int, occupancy: int) -> None:
        self.occupancy[zone_id] = occupancy

    def zones_keep(self, zone_ids: set[int]) -> None:
        """Forget the occupancy of zones that no longer count (deleted, disabled, masks)."""
        self.occupancy = {k: v for k, v in self.occupancy.items() if k in zone_ids}

    def on_commit(self, result: WriteResult) -> None:
        """The ledger's commit callback: publish the events it inserted."""
        self.publish(result.inserted)

    def publish(self, events: list[LedgerEvent]) -> None:
        self.published_occupancy = dict(self.occupancy)
        publish_camera_counts(schema=self.schema, camera_id=self.camera.pk,
                              site_id=self.camera.site_id, site_tz=self.camera.site.timezone,
                              events=events, zones=dict(self.occupancy))

    def publish_occupancy_if_changed(self) -> None:
        if self.occupancy != self.published_occupancy:
            self.publish([])
