#!/usr/bin/env bash
# The Library's browse preview on the CPU with the default configuration:
# seconds to the model's (adain) preview and to the refined one, then the
# stylize loss (`atelier score` at the refine size, 128 px) of the photo, the
# adain preview and the refined preview, for chelsea with two paintings the
# adain model was not trained on (models/README.md): Wheat Field with
# Cypresses (436535) and Irises (436528).
# Usage: bench/browse_refine.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
A=${ATELIER:-target/release/atelier}
out=${1:-$(mktemp -d)}
paintings="436535 436528"
cargo run --release --quiet --example browse_refine -- "$out" contents/chelsea.png \
  $(for s in $paintings; do echo "styles/$s.jpg"; done)
for s in $paintings; do
  for img in contents/chelsea.png "$out/$s-adain.png" "$out/$s-refined.png"; do
    "$A" score "$img" contents/chelsea.png "styles/$s.jpg" --size 128
  done
done
