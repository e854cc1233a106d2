"""The node's inference service: one process loads each detector model once and batches the
frames of every stream runner of the node (all cameras, all tenants) through it.

No Django here (import-linter's pipeline contract covers this package): the service is a plain
process started by the streams worker (``counting/runner/inference_supervisor.py``), and the
client is a :class:`~counting.pipeline.detectors.base.Detector` like the in-process one.

- :mod:`~counting.inference.protocol`: length-prefixed JSON headers and small binary payloads
  (boxes) over a Unix socket; pixels travel through shared memory only.
- :mod:`~counting.inference.frames`: the client's shared-memory segment and frame layout.
- :mod:`~counting.inference.fair_queue`: round robin over tenants, then over their cameras.
- :mod:`~counting.inference.server`: the service (``python -m counting.inference.server``).
- :mod:`~counting.inference.client`: :class:`InferenceDetector`, the runner's side.
"""

from counting.inference.client import InferenceDetector
from counting.inference.protocol import InferenceError, InferenceUnavailable

__all__ = ["InferenceDetector", "InferenceError", "InferenceUnavailable"]
