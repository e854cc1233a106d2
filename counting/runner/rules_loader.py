"""Keeps a running engine's lines, zones and masks equal to the stored, enabled rules."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from counting.pipeline.engine import CountingEngine
from counting.pipeline.specs import LineSpec, MaskSpec, ZoneSpec
from counting.runner.rule_specs import engine_rules
from counting.selectors import camera_rules_enabled, camera_rules_fingerprint

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineRules:
    """A camera's enabled rules as specs, with the fingerprint they were read at."""

    fingerprint: Any
    lines: list[LineSpec]
    zones: list[ZoneSpec]
    masks: list[MaskSpec]


class RulesLoader:
    """Reloads a camera's rules into the engine when their fingerprint changes (a cheap query
    polled every few seconds); ``counted_zones`` are the ids of zones that count occupancy.

    Reading (``fetch``, database) and applying (``apply``, the engine, on the loop's thread)
    are separate steps so that the read can run beside the frame loop.
    """

    def __init__(self, *, camera_id: int, engine: CountingEngine) -> None:
        self.camera_id = camera_id
        self.engine = engine
        self.fingerprint: Any = None
        self.counted_zones: set[int] = set()

    def fetch(self, *, force: bool = False) -> EngineRules | None:
        """The stored rules if they changed since the last apply (always with ``force``)."""
        fingerprint = camera_rules_fingerprint(camera_id=self.camera_id)
        if not force and fingerprint == self.fingerprint:
            return None
        lines, zones = camera_rules_enabled(camera_id=self.camera_id)
        line_specs, zone_specs, mask_specs = engine_rules(list(lines), list(zones))
        return EngineRules(fingerprint=fingerprint, lines=line_specs, zones=zone_specs,
                           masks=mask_specs)

    def apply(self, rules: EngineRules) -> None:
        self.engine.update_rules(lines=rules.lines, zones=rules.zones, masks=rules.masks)
        self.fingerprint = rules.fingerprint
        self.counted_zones = {int(z.key) for z in rules.zones}

    def reload(self, *, force: bool = False) -> bool:
        """Fetch and apply the stored rules if they changed; True if applied."""
        rules = self.fetch(force=force)
        if rules is None:
            return False
        self.apply(rules)
        if not force:
            logger.info("camera %s: rules reloaded (%d lines, %d zones, %d masks)",
                        self.camera_id, len(rules.lines), len(rules.zones), len(rules.masks))
        return True
