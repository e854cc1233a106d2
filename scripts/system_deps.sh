#!/usr/bin/env bash
# Debian packages the product and its tests use: FFmpeg-capable OpenCV needs none, but the
# RTSP test server (GStreamer) and the browser tests (Chromium) do. Installs only what is missing.
set -eu
want=(gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
      python3-gi chromium ffmpeg
      pgbackrest             # point-in-time recovery of the platform database (docs/operations.md)
      postgresql-15-partman)  # the partitioned ledger's partitions (docs/operations.md)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "!! missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo ">> installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
