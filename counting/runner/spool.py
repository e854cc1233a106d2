"""A small on-disk spool for crossings a run could not write before it ended.

When the run ends (SIGTERM, lease lost, camera disabled) while PostgreSQL is unreachable, its
buffered crossings go to one JSON file per run in ``COUNTING_SPOOL_DIR`` instead of being
dropped; the next run of the camera on this host writes them with
:func:`counting.ledger.ledger_write_late` (idempotent: they keep their generation) and reports
the losses the file records. A spool file that cannot be written is logged with the number of
crossings lost; nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

from counting.ledger import LedgerEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpoolFile:
    """One run's unwritten crossings, and the losses it could not report."""

    path: Path
    camera_id: int
    generation: int
    events: tuple[LedgerEvent, ...]
    lost: int


def spool_dir() -> Path:
    return Path(settings.COUNTING_SPOOL_DIR)


def _prefix(schema: str, camera_id: int) -> str:
    return f"{schema}.{camera_id}."


def spool_write(*, schema: str, camera_id: int, generation: int,
                events: Sequence[LedgerEvent], lost: int) -> Path | None:
    """Store the crossings atomically (write, fsync, rename); None if the disk refused."""
    directory = spool_dir()
    path = directory / f"{_prefix(schema, camera_id)}{generation}.{uuid.uuid4().hex[:8]}.json"
    body = {"camera_id": camera_id, "generation": generation, "lost": lost,
            "events": [{"line_id": e.line_id, "direction": e.direction, "track_id": e.track_id,
                        "occurred_at": e.occurred_at.isoformat(), "frame_index": e.frame_index,
                        "score": e.score, "model_version": e.model_version,
                        "rule_version": e.rule_version} for e in events]}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(body, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as exc:
        logger.error("camera %s: could not spool %d crossings to %s (%s): they are lost",
                     camera_id, len(events), directory, exc)
        return None
    logger.warning("camera %s: %d crossings spooled to %s; the camera's next run writes them",
                   camera_id, len(events), path)
    return path


def spool_files(*, schema: str, camera_id: int) -> list[SpoolFile]:
    """The camera's spool files on this host, oldest generation first."""
    directory = spool_dir()
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob(f"{_prefix(schema, camera_id)}*.json")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            events = tuple(LedgerEvent(
                line_id=int(e["line_id"]), direction=str(e["direction"]),
                track_id=int(e["track_id"]),
                occurred_at=datetime.fromisoformat(e["occurred_at"]),
                frame_index=int(e["frame_index"]), score=float(e["score"]),
                model_version=str(e["model_version"]), rule_version=str(e["rule_version"]))
                for e in body["events"])
            found.append(SpoolFile(path=path, camera_id=int(body["camera_id"]),
                                   generation=int(body["generation"]), events=events,
                                   lost=int(body.get("lost", 0))))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.error("spool file %s is unreadable (%s); left in place", path, exc)
    return sorted(found, key=lambda f: f.generation)
