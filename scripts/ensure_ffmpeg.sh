#!/usr/bin/env bash
# `atelier video` runs the ffmpeg and ffprobe programs, and its tests make tiny
# clips with them. Install ffmpeg when missing and we may (root with apt-get, as
# in CI); otherwise say how. Everything but video works without it.
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing ffmpeg for atelier video"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) ||
    echo "warning: could not install ffmpeg; install it yourself for video (apt-get install ffmpeg)" >&2
else
  echo "note: ffmpeg not found; for video install it (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)" >&2
fi
exit 0
