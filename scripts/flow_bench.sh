#!/bin/sh
# Optical flow on synthetic motion with known flow, atelier's estimator against
# OpenCV's (the table in docs/motion.md). OpenCV is installed into a folder of
# its own ($CVPKGS, /tmp/cvpkgs by default), never into the project's
# environment: it is a reference point, not a dependency.
#
#     scripts/flow_bench.sh [CASES_DIR]      (default /tmp/flowcases)
set -eu
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CVPKGS=${CVPKGS:-/tmp/cvpkgs}
CASES=${1:-/tmp/flowcases}
[ -d "$CVPKGS/cv2" ] || "$PY" -m pip install -q --target "$CVPKGS" opencv-python-headless numpy
PYTHONPATH=$CVPKGS "$PY" bench/flow.py cases "$CASES"
cargo run --release --example flow_bench -- "$CASES"
PYTHONPATH=$CVPKGS "$PY" bench/flow.py opencv "$CASES"
