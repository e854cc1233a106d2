"""A local IP-camera simulator: serves a video file as a live HTTP MJPEG stream.

    .venv/bin/python scripts/camera_simulator.py --video PATH [--port 8554]

GET /video.mjpg is ``multipart/x-mixed-replace`` JPEG frames at the video's native rate (or
--fps), played as a *live* broadcast: every client sees the current frame, a late client joins
mid-clip, nobody can rewind. GET /status returns JSON (frame position, clients, finished).

Test options: --start-frame/--frames play a segment, --loops N stops after N passes (0: loop
forever; afterwards new connections get 503), --start-on-connect starts the clock when the
first client connects, --freeze-after N repeats frame N forever (a frozen camera).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

BOUNDARY = "frame"


class Broadcast:
    """The live clock: which frame is on air now, and a condition clients wait on."""

    def __init__(self, frames: list[bytes], fps: float, loops: int, start_on_connect: bool,
                 freeze_after: int | None) -> None:
        self.frames = frames
        self.fps = fps
        self.loops = loops
        self.freeze_after = freeze_after
        self.cond = threading.Condition()
        self.position = -1  # frames on air since the start (across loops)
        self.finished = False
        self.clients = 0
        self.started = threading.Event()
        if not start_on_connect:
            self.started.set()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        self.started.wait()
        period = 1.0 / self.fps
        t0 = time.monotonic()
        total = len(self.frames) * self.loops if self.loops else None
        n = 0
        while total is None or n < total:
            delay = t0 + n * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self.cond:
                self.position = n
                self.cond.notify_all()
            n += 1
        time.sleep(period)
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def frame(self, position: int) -> bytes:
        if self.freeze_after is not None and position >= self.freeze_after:
            return self.frames[self.freeze_after % len(self.frames)]  # frozen for good
        return self.frames[position % len(self.frames)]


def make_handler(broadcast: Broadcast) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # one line per request would drown the demo's output

        def do_GET(self) -> None:  # noqa: N802
            if self.path.startswith("/status"):
                body = json.dumps({"position": broadcast.position, "clients": broadcast.clients,
                                   "finished": broadcast.finished,
                                   "frames": len(broadcast.frames)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if not self.path.startswith("/video.mjpg"):
                self.send_error(404)
                return
            if broadcast.finished:
                self.send_error(503, "stream ended")
                return
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            with broadcast.cond:
                broadcast.clients += 1
            broadcast.started.set()
            sent = -1
            try:
                while True:
                    with broadcast.cond:
                        while broadcast.position == sent and not broadcast.finished:
                            broadcast.cond.wait(1.0)
                        if broadcast.finished:
                            return
                        sent = broadcast.position
                    jpeg = broadcast.frame(sent)
                    self.wfile.write(
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            finally:
                with broadcast.cond:
                    broadcast.clients -= 1

    return Handler


def load_frames(path: str, start: int, count: int | None, quality: int) -> tuple[list[bytes],
                                                                                 float]:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SystemExit(f"cannot open video {path}")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 7.0
    frames: list[bytes] = []
    index = 0
    while count is None or len(frames) < count:
        ok, image = cap.read()
        if not ok:
            break
        if index >= start:
            ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            frames.append(jpeg.tobytes())
        index += 1
    cap.release()
    if not frames:
        raise SystemExit("no frames in the requested segment")
    return frames, fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--fps", type=float, default=None, help="default: the video's rate")
    parser.add_argument("--start-frame", type=int, default=0)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--loops", type=int, default=0, help="0: loop forever")
    parser.add_argument("--start-on-connect", action="store_true")
    parser.add_argument("--freeze-after", type=int, default=None)
    parser.add_argument("--quality", type=int, default=95)
    args = parser.parse_args()
    frames, native_fps = load_frames(args.video, args.start_frame, args.frames, args.quality)
    broadcast = Broadcast(frames, args.fps or native_fps, args.loops, args.start_on_connect,
                          args.freeze_after)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(broadcast))
    server.daemon_threads = True
    print(f"camera simulator: {len(frames)} frames at {args.fps or native_fps:g} fps on "
          f"http://{args.host}:{args.port}/video.mjpg", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
