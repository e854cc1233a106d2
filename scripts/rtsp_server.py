"""A real RTSP server for tests and demos (GStreamer's RTSP server through python3-gi).

Run with Debian's Python, which has the GObject bindings (not the project's virtualenv):

    /usr/bin/python3 scripts/rtsp_server.py --port 8555 --path /cam

serves rtsp://127.0.0.1:8555/cam: H.264 (x264, zero latency) of a moving test pattern, or of a
video file with --video PATH (played once per client session). Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def launch_line(args: argparse.Namespace) -> str:
    caps = f"video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1"
    if args.video:
        source = (f'filesrc location="{args.video}" ! decodebin ! videoconvert ! videoscale ! '
                  f"videorate ! {caps}")
    else:
        source = f"videotestsrc is-live=true pattern={args.pattern} ! {caps}"
    return (f"( {source} ! x264enc tune=zerolatency speed-preset=ultrafast "
            f"key-int-max={args.fps} ! rtph264pay name=pay0 pt=96 config-interval=1 )")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8555)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--video", default=None)
    parser.add_argument("--pattern", default="ball")
    parser.add_argument("--fps", type=int, default=7)
    parser.add_argument("--width", type=int, default=480)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args))
    factory.set_shared(True)  # one encoder for every client: a camera, not a VOD server
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on {args.host}:{args.port}")
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"rtsp server: rtsp://{args.host}:{args.port}{args.path}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
