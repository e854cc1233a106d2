"""Signals counting sends for the rooms above it (alerts listen; counting imports none of them).

``ledger_committed``: sent after a ledger batch committed new events or zone samples, in the
    process and thread that wrote it, with ``schema``, ``camera_id``, ``inserted`` (the new
    :class:`counting.ledger.LedgerEvent` s) and ``zones`` (the batch's
    :class:`counting.rollups.ZoneMinute` samples). Receivers must be quick and must not raise
    (the sender logs and goes on): the stream runner is waiting.
``health_swept``: sent by the health sweep once per tenant, inside that tenant's context, after
    its cameras' health was brought up to date, with ``schema``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger(__name__)

ledger_committed = Signal()
health_swept = Signal()


def send_robust(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal``; a receiver's exception is logged, never raised to the sender."""
    for receiver, result in signal.send_robust(sender=None, **kwargs):
        if isinstance(result, Exception):
            logger.error("%s receiver %r failed: %r", kwargs.get("schema", ""), receiver,
                         result, exc_info=result)
