"""The node's inference service: ``python -m counting.inference.server --socket PATH``.

::

    client threads (one per runner)      batch workers (``--workers`` threads)
    hello: load the spec's model once    each: wait for requests; when idle, gather for at
    detect: frames -> FairQueue  ----->  most ``gather_ms`` or until ``max_batch`` frames wait;
                                         take a fair batch (tenants, then cameras, in turn)
                                         -> detector.detect(frames of all of them)
                                         -> boxes back to each client

Models are loaded once per :meth:`DetectorSpec.key` and shared by every client that asks for
that spec (and by every worker: a forward pass keeps no state); a batch holds frames of one
model. Torch runs on CUDA when it sees one (one worker), otherwise each worker runs its batches
on ``--threads`` CPU threads. On CPU the default is one worker per core, each on one thread:
a nano detector's operators are too small to split well over threads (one batch on two threads
ran at 1.3-1.5x one thread's speed here, two one-thread batches side by side at ~2x), so the
cores run different batches instead. Frames are read in place from each client's shared-memory
segment; only headers and boxes cross the socket.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from counting.inference.fair_queue import FairQueue, Request
from counting.inference.frames import ServerSegment
from counting.inference.protocol import (
    PROTOCOL_VERSION,
    InferenceError,
    recv_message,
    send_message,
)
from counting.pipeline.detectors.base import Detector
from counting.pipeline.detectors.spec import DetectorSpec, SpecKey, create_detector_from_spec

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 8
DEFAULT_GATHER_MS = 4.0


@dataclass(eq=False)
class _Client:
    """One connected runner."""

    sock: socket.socket
    tenant: str = ""
    camera: str = ""
    key: SpecKey | None = None
    segment: ServerSegment | None = None
    send_lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        with self.send_lock:
            try:
                send_message(self.sock, header, payload)
            except OSError:
                pass  # the client went away; its thread notices and cleans up


@dataclass
class _Pending:
    """Frames of one client waiting in the fair queue for the next batch."""

    client: _Client
    seq: int
    images: list[Any]


class InferenceServer:
    """Loads models once, accepts runners on a Unix socket and batches their frames fairly."""

    def __init__(self, socket_path: str | Path, *, threads: int | None = None,
                 workers: int | None = None, device: str | None = None,
                 max_batch: int = DEFAULT_MAX_BATCH, gather_ms: float = DEFAULT_GATHER_MS,
                 loader: Callable[[DetectorSpec], Detector] | None = None) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        for name, value in (("threads", threads), ("workers", workers)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.socket_path = str(socket_path)
        self.workers, self.threads = worker_layout(device=device, workers=workers,
                                                   threads=threads)
        self.device = device
        self.max_batch = max_batch
        self.gather_s = gather_ms / 1000.0
        self._loader = loader or self._load
        self._models: dict[SpecKey, Detector] = {}
        self._models_lock = threading.Lock()
        self._queues: dict[SpecKey, FairQueue] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._clients: set[_Client] = set()
        self._listener: socket.socket | None = None
        self._counters_lock = threading.Lock()
        self._latency: dict[str, list[tuple[float, int]]] = {}  # model version: (ms, frames)
        self.batches = 0
        self.frames = 0
        self.busy_s = 0.0

    # -- models --------------------------------------------------------------------------------
    def _load(self, spec: DetectorSpec) -> Detector:
        """Data formats only, the SHA-256 checked, labelled with the registry's name (the
        version count events and model_logs carry) when the spec names a registry model."""
        detector: Detector = create_detector_from_spec(spec, device=self.device,
                                                       threads=self.threads)
        return detector

    def model(self, spec: DetectorSpec) -> Detector:
        """The loaded model of ``spec`` (loaded now if no client asked for it before)."""
        key = spec.key()
        with self._models_lock:
            if key not in self._models:
                started = time.monotonic()
                self._models[key] = self._loader(spec)
                logger.info("inference: loaded %s in %.1f s", self._models[key].version,
                            time.monotonic() - started)
            return self._models[key]

    # -- lifecycle -----------------------------------------------------------------------------
    def bind(self) -> None:
        """Listen on the socket (a stale file from a dead service is replaced; a live service
        on it is an error)."""
        path = Path(self.socket_path)
        if path.exists():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.socket_path)
            except OSError:
                path.unlink()
            else:
                probe.close()
                raise RuntimeError(f"an inference service already listens on {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        listener.listen(256)
        listener.settimeout(0.5)
        self._listener = listener

    def serve_forever(self) -> None:
        """Accept clients until :meth:`stop`; the batcher runs beside."""
        if self._listener is None:
            self.bind()
        assert self._listener is not None
        for index in range(self.workers):
            threading.Thread(target=self._batch_loop, name=f"inference-worker-{index}",
                             daemon=True).start()
        logger.info("inference: listening on %s (%d workers of %d threads, max batch %d, "
                    "gather %.1f ms)", self.socket_path, self.workers, self.threads,
                    self.max_batch, self.gather_s * 1000)
        try:
            while not self._stop.is_set():
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    if self._stop.is_set():
                        break
                    raise
                sock.settimeout(None)
                client = _Client(sock=sock)
                self._clients.add(client)
                threading.Thread(target=self._serve_client, args=(client,),
                                 name="inference-client", daemon=True).start()
        finally:
            self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                Path(self.socket_path).unlink()
            with self._cond:
                self._cond.notify_all()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for client in list(self._clients):
            with contextlib.suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)

    # -- one client ----------------------------------------------------------------------------
    def _serve_client(self, client: _Client) -> None:
        try:
            while not self._stop.is_set():
                message = recv_message(client.sock)
                if message is None:
                    return
                header, _ = message
                self._handle(client, header)
        except (OSError, InferenceError) as exc:
            logger.info("inference: client %s/%s gone (%s)", client.tenant, client.camera, exc)
        finally:
            self._clients.discard(client)
            with contextlib.suppress(OSError):
                client.sock.close()
            if client.segment is not None:
                client.segment.close()

    def _handle(self, client: _Client, header: dict[str, Any]) -> None:
        op = header["op"]
        try:
            if op == "hello":
                self._hello(client, header)
            elif op == "shm":
                self._attach(client, str(header["name"]))
                client.send({"op": "ok"})
            elif op == "detect":
                self._enqueue(client, header)
            elif op == "stats":
                client.send({"op": "stats", **self.stats()})
            elif op == "latency":
                client.send({"op": "latency", "models": self.latency_take()})
            else:
                client.send({"op": "error", "kind": "request",
                             "message": f"unknown operation {op!r}"})
        except (KeyError, TypeError, ValueError, OSError, RuntimeError) as exc:
            kind = "model" if op == "hello" else "request"
            client.send({"op": "error", "kind": kind, "message": f"{type(exc).__name__}: {exc}"})

    def _hello(self, client: _Client, header: dict[str, Any]) -> None:
        if header.get("protocol") != PROTOCOL_VERSION:
            raise ValueError(f"protocol {header.get('protocol')!r} is not the service's "
                             f"{PROTOCOL_VERSION}: restart the stream workers")
        spec = DetectorSpec.from_dict(header["spec"])
        detector = self.model(spec)
        self._attach(client, str(header["shm"]))
        client.tenant, client.camera = str(header["tenant"]), str(header["camera"])
        client.key = spec.key()
        client.send({"op": "ready", "name": detector.name, "version": detector.version,
                     "input_size": detector.input_size,
                     "score_threshold": detector.score_threshold})

    @staticmethod
    def _attach(client: _Client, name: str) -> None:
        segment = ServerSegment(name)
        if client.segment is not None:
            client.segment.close()
        client.segment = segment

    def _enqueue(self, client: _Client, header: dict[str, Any]) -> None:
        if client.key is None or client.segment is None:
            raise ValueError("detect before hello")
        images = client.segment.frames(header["frames"])
        seq = int(header["seq"])
        if not images:
            client.send({"op": "boxes", "seq": seq, "counts": []})
            return
        request = Request(tenant=client.tenant, camera=client.camera, frames=len(images),
                          item=_Pending(client=client, seq=seq, images=images))
        with self._cond:
            self._queues.setdefault(client.key, FairQueue()).put(request)
            self._cond.notify()

    # -- batches -------------------------------------------------------------------------------
    def _next_batch(self) -> tuple[SpecKey, list[Request]] | None:
        with self._cond:
            while not self._stop.is_set():
                waiting = [(q.oldest(), k) for k, q in self._queues.items() if len(q)]
                if not waiting:
                    self._cond.wait(0.5)
                    continue
                oldest, key = min(waiting, key=lambda item: item[0] or 0.0)
                queue = self._queues[key]
                # Gather: more runners' frames arrive within a few ms when the node is busy.
                left = (oldest or 0.0) + self.gather_s - time.monotonic()
                if queue.frames() < self.max_batch and left > 0:
                    self._cond.wait(left)
                    continue
                return key, queue.take(self.max_batch)
        return None

    def _batch_loop(self) -> None:
        _use_threads(self.threads)  # per calling thread in torch's OpenMP pool
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            key, requests = batch
            self._run(key, requests)

    def _run(self, key: SpecKey, requests: list[Request]) -> None:
        pending: list[_Pending] = [r.item for r in requests]
        images = [img for p in pending for img in p.images]
        started = time.monotonic()
        model = self._models[key]
        try:
            results = model.detect(images)
        except Exception as exc:  # the detector failed on these frames: tell their clients
            logger.exception("inference: detector failed on a batch of %d", len(images))
            for p in pending:
                p.client.send({"op": "error", "kind": "detector",
                               "message": f"{type(exc).__name__}: {exc}"})
            return
        finally:
            del images
        took = time.monotonic() - started
        with self._counters_lock:
            self.busy_s += took
            self.batches += 1
            self.frames += len(results)
            self._latency.setdefault(model.version, []).append((took * 1000.0, len(results)))
        at = 0
        for p in pending:
            mine = results[at:at + len(p.images)]
            at += len(p.images)
            p.images = []
            xyxy = [d.xyxy.astype(np.float32, copy=False) for d in mine]
            scores = [d.scores.astype(np.float32, copy=False) for d in mine]
            payload = (np.concatenate(xyxy).tobytes() if xyxy else b"") + \
                (np.concatenate(scores).tobytes() if scores else b"")
            p.client.send({"op": "boxes", "seq": p.seq, "counts": [len(d) for d in mine]},
                          payload)

    def latency_take(self) -> dict[str, dict[str, float]]:
        """Batch latency per model version since the last call (then forgotten): batches,
        frames, median, p95 and max ms of one batch's detection."""
        with self._counters_lock:
            taken, self._latency = self._latency, {}
        return {version: latency_summary(samples) for version, samples in taken.items()}

    def stats(self) -> dict[str, Any]:
        """Counters since start: batches, frames, mean batch, busy seconds, clients, models."""
        return {"batches": self.batches, "frames": self.frames,
                "mean_batch": round(self.frames / self.batches, 2) if self.batches else 0.0,
                "busy_s": round(self.busy_s, 3), "clients": len(self._clients),
                "models": sorted(m.version for m in self._models.values()),
                "workers": self.workers, "threads": self.threads, "max_batch": self.max_batch,
                "pid": os.getpid()}


def latency_summary(samples: list[tuple[float, int]]) -> dict[str, float]:
    """Batches, frames, and the median, p95 and max of the batches' milliseconds."""
    times = sorted(ms for ms, _ in samples)
    return {"batches": len(times), "frames": sum(frames for _, frames in samples),
            "median_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
            "max_ms": round(times[-1], 2)}


def worker_layout(*, device: str | None, workers: int | None,
                  threads: int | None) -> tuple[int, int]:
    """(batch workers, torch threads per worker): on a GPU one worker (the device serialises
    them anyway); on CPU, by default, one single-threaded worker per core; given only one of
    the two, the other shares the cores out."""
    cores = os.cpu_count() or 1
    if _on_gpu(device):
        return workers or 1, threads or 1
    if workers is None and threads is None:
        return cores, 1
    if workers is None:
        return max(1, cores // (threads or 1)), threads or 1
    return workers, threads or max(1, cores // workers)


def _use_threads(threads: int) -> None:
    """Torch's CPU threads for the operators this thread runs (letterbox and decode too)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def _on_gpu(device: str | None) -> bool:
    if device is not None:
        return not device.startswith("cpu")
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m counting.inference.server",
                                     description="The node's inference service.")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--workers", type=int, default=None,
                        help="batches run at once (default: one per core on CPU, 1 on a GPU)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per worker (default: the cores shared out "
                             "between the workers; 1 when neither is given)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if seen)")
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument("--gather-ms", type=float, default=DEFAULT_GATHER_MS)
    parser.add_argument("--preload", action="append", default=[], metavar="SPEC",
                        help="load this model before accepting clients: a DetectorSpec as JSON, "
                             "or a model path (torch, input 480)")
    args = parser.parse_args(argv)
    for name in ("threads", "workers"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # OpenMP workers that spin collapse when another process wants a core (see base.py).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    server = InferenceServer(args.socket, threads=args.threads, workers=args.workers,
                             device=args.device, max_batch=args.max_batch,
                             gather_ms=args.gather_ms)
    for spec in args.preload:
        server.model(DetectorSpec.from_dict(json.loads(spec)) if spec.lstrip().startswith("{")
                     else DetectorSpec(model_path=spec))
    server.bind()
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    signal.signal(signal.SIGINT, lambda *_: server.stop())
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
