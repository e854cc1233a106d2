"""The Django side of stream processing: one runner per camera, a small loop over parts.

- ``runner``: :class:`StreamRunner`, the loop that schedules the parts;
- ``lease``: :class:`LeaseKeeper`, acquire, heartbeat, release (the fencing generation);
- ``connection``: :class:`StreamConnection`, open (via :mod:`cameras.streams`), read,
  reconnect with backoff;
- ``rules_loader``: :class:`RulesLoader`, stored lines/zones/masks into the engine, and
  ``rule_specs``, stored rules as pipeline specs;
- ``frames``: an analysed frame's crossings and zone samples into the buffer;
- ``buffer``: :class:`LedgerBuffer`, bounded ledger work waiting for PostgreSQL;
- ``flusher``: :class:`LedgerFlusher`, fenced batches to ``ledger_write``;
- ``publisher``: :class:`LivePublisher`, stored crossings and occupancy to the browsers;
- ``health_reporter``: :class:`HealthReporter`, state, rates, frame age, takeover gaps;
- ``stop``: :class:`StopCheck`, the stop flag and a disabled, deleted or edited camera;
- ``db_guard``: :class:`DatabaseGuard`, a database outage never ends the loop;
- ``detector``: the run's detector (a client of the node's inference service, or the worker
  process's shared detector); ``inference_supervisor``: keeps that service running;
  ``config``: :class:`RunnerConfig`.
"""

from counting.runner.config import RunnerConfig
from counting.runner.lease import LeaseLostError
from counting.runner.runner import StreamRunner, run_camera_stream
from counting.runner.stop import stop_flag_key, stream_stop_request

__all__ = [
    "LeaseLostError",
    "RunnerConfig",
    "StreamRunner",
    "run_camera_stream",
    "stop_flag_key",
    "stream_stop_request",
]
