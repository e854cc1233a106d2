"""The Django side of stream processing: one runner per camera (lease, loop, ledger, health).

Re-exports the public names of :mod:`counting.runner.runner`.
"""

from counting.runner.runner import (
    LeaseLostError,
    RunnerConfig,
    StreamRunner,
    run_camera_stream,
    stop_flag_key,
    stream_stop_request,
)

__all__ = [
    "LeaseLostError",
    "RunnerConfig",
    "StreamRunner",
    "run_camera_stream",
    "stop_flag_key",
    "stream_stop_request",
]
