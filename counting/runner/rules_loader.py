"""Keeps a running engine's lines, zones and masks equal to the stored, enabled rules."""

from __future__ import annotations

import logging
from typing import Any

from counting.pipeline.engine import CountingEngine
from counting.runner.rule_specs import engine_rules
from counting.selectors import camera_rules_enabled, camera_rules_fingerprint

logger = logging.getLogger(__name__)


class RulesLoader:
    """Reloads a camera's rules into the engine when their fingerprint changes (a cheap query
    polled every few seconds); ``counted_zones`` are the ids of zones that count occupancy."""

    def __init__(self, *, camera_id: int, engine: CountingEngine) -> None:
        self.camera_id = camera_id
        self.engine = engine
        self.fingerprint: Any = None
        self.counted_zones: set[int] = set()

    def reload(self, *, force: bool = False) -> bool:
        """Apply the stored rules if they changed (always with ``force``); True if applied."""
        fingerprint = camera_rules_fingerprint(camera_id=self.camera_id)
        if not force and fingerprint == self.fingerprint:
            return False
        lines, zones = camera_rules_enabled(camera_id=self.camera_id)
        line_specs, zone_specs, mask_specs = engine_rules(list(lines), list(zones))
        self.engine.update_rules(lines=line_specs, zones=zone_specs, masks=mask_specs)
        self.fingerprint = fingerprint
        self.counted_zones = {int(z.key) for z in zone_specs}
        if not force:
            logger.info("camera %s: rules reloaded (%d lines, %d zones, %d masks)",
                        self.camera_id, len(line_specs), len(zone_specs), len(mask_specs))
        return True
