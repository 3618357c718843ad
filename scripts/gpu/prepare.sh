#!/usr/bin/env bash
# scripts/gpu_check.sh --prepare: for a GPU machine that gets a copy of this checkout's
# tracked files plus one extra folder, 64 MiB in all, builds that folder, gpu-carry/
# (gitignored): the stripped binary and the VGG19 weights, xz-compressed (the weights are
# 256 centroids a layer, so they pack to a quarter); the training photos and the adain
# paintings, held-out ones left out, paintings at 512 px; the bundled paintings and photos
# the stages name. gpu_check.sh unpacks it when it finds it. Then prints the commands to
# run there, the time of each stage, and what comes back.
set -eu
H=$(cd "$(dirname "$0")/../.." && pwd)
cd "$H"
export LIBTORCH_USE_PYTORCH=1 PATH="$H/.venv/bin:$PATH"
MODE=gpu O=$H/gpu-carry W=$(mktemp -d)
B=${BIN:-$H/target/release/atelier} # BIN: a binary built already (else: built here)
trap 'rm -rf "$W"' EXIT
source "$H/scripts/gpu/common.sh"
C=$H/gpu-carry
LIMIT=$((64 * 1024 * 1024))
# The venv of `make setup` has Pillow; a system python needs Debian's python3-pil.
PYP=$([ -x "$H/.venv/bin/python" ] && echo "$H/.venv/bin/python" || echo python3)
"$PYP" -c 'import PIL' 2>/dev/null ||
  { echo "prepare: $PYP cannot import PIL to shrink the paintings: run make setup (or apt-get install python3-pil)" >&2; exit 1; }

[ -n "${BIN:-}" ] || cargo build --release --bin atelier
rm -rf "$C"
mkdir -p "$C/styles" "$C/contents" "$C/photos" "$W/paintings" "$C/paintings" .cache/gpu
strip -o "$W/atelier" "$B"
xz -9 -T0 -c "$W/atelier" >"$C/atelier.xz"
# xz takes a minute or two on the weights: kept in .cache/gpu by their sha256.
sha=$(cut -d' ' -f1 weights/vgg19.safetensors.sha256)
packed=.cache/gpu/vgg19-$sha.safetensors.xz
if [ ! -s "$packed" ]; then
  xz -6 -T0 -c weights/vgg19.safetensors >"$packed.tmp" && mv "$packed.tmp" "$packed"
fi
cp "$packed" "$C/vgg19.safetensors.xz"

# Training data.
if [ -n "$(ls datasets/photos 2>/dev/null)" ]; then
  DATA_SRC=$H/datasets/photos
else
  DATA_SRC=$H/contents
  echo "WARNING: no datasets/photos (make dataset builds it): the carry trains on the few bundled photos, far too few for a useful model"
fi
PAINT_SRC=$H/styles
training_sets "$C/photos" "$W/paintings"
# PAINT_PX: the paintings' longer side (smaller if the checkout has grown past the limit)
"$PYP" scripts/gpu/shrink.py "${PAINT_PX:-512}" "$C/paintings" "$W/paintings"/*
# What the stages name: the styles of the bundled networks, the held-out paintings and
# photos, with the catalogs that name them.
bundled >"$W/bundled.txt"
{
  while read -r _ kind _ args; do
    case $kind in johnson | cin) printf '%s\n' $args ;; esac
  done <"$W/bundled.txt"
  printf '%s\n' $HOLD_PAINTINGS
} | sort -u | while read -r s; do cp "styles/$(catalog_file styles "$s")" "$C/styles/"; done
for p in $HOLD_PHOTOS; do cp "contents/$(catalog_file contents "$p")" "$C/contents/"; done
cp styles/catalog.json "$C/styles/"
cp contents/catalog.json "$C/contents/"

# Everything that travels: the tracked and untracked-not-ignored files, and the carry.
tree=$( (git ls-files -z; git ls-files -z -o --exclude-standard) | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
carry=$(du -sb "$C" | cut -f1)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo
echo "gpu-carry/: $(mib "$carry") (binary $(mib "$(stat -c %s "$C/atelier.xz")"), weights $(mib "$(stat -c %s "$C/vgg19.safetensors.xz")"),"
echo "  $(ls "$C/photos" | wc -l) photos $(mib "$(du -sb "$C/photos" | cut -f1)"), $(ls "$C/paintings" | wc -l) paintings $(mib "$(du -sb "$C/paintings" | cut -f1)"));"
echo "  with the checkout's files ($(mib "$tree")): $(mib $((tree + carry))) of the $(mib "$LIMIT") a call carries"
if [ $((tree + carry)) -gt "$LIMIT" ]; then
  echo "prepare: over the limit; carry smaller paintings (PAINT_PX=384) or fewer photos" >&2
  exit 1
fi
cat <<EOF

On the GPU machine, from the checkout's root with gpu-carry/ beside it, two commands
(the machine kept between them: the second finds the first's unpacked files, or unpacks again):

  1. smoke and train, at most 9.5 min (the stage budgets: smoke $SMOKE_S s, training $TRAIN_S s,
     scoring $SCORE_S s, then the saving):
       bash scripts/gpu_check.sh --stages smoke,train "\$OUT"          (timeout 600 s)
  2. bench, 2.5 min:
       bash scripts/gpu_check.sh --stages bench "\$OUT"                (timeout 240 s)

Through this workplace's device tool:
  run(carry=["gpu-carry"], command="bash scripts/gpu_check.sh --stages smoke,train \\"\$OUT\\"", timeout_s=600)
  run(carry=["gpu-carry"], command="bash scripts/gpu_check.sh --stages bench \\"\$OUT\\"", timeout_s=240)
  then give_back.

Expected time of each stage (ESTIMATES, not measured: nothing of atelier has run on CUDA yet):
  stage    H100 (80 GB)         H200 (141 GB)
  smoke    60-90 s              60-90 s        about 15 atelier processes, each paying CUDA's start-up
                                               (1-3 s) more than its work; the 512 px run ~5 s
  train    ${TRAIN_S} s + 60-90 s     the same       the budget sets the time; the GPU sets how far
                                               the five trainings get: estimated on an H100
                                               1,500-2,500 iterations each for the fast-style
                                               networks (batch 4, 256 px), 800-1,500 for the
                                               decoders (batch 8); an H200 10-20 % further
  bench    60-120 s             50-110 s       s/eval ~0.01 (512 px), ~0.04 (1024), ~0.15 (2048);
                                               500 evaluations at 512 px ~5-10 s
  How estimated: Johnson et al. report 40k iterations (batch 4, 256 px, VGG16) in about
  4 h on a GTX Titan X (2.8 it/s); PyTorch's reference Gatys at 512 px runs at ~0.03 s per
  evaluation on a V100; an H100 does 3-8x a V100's FP32/TF32 work, and an H200 is the same
  chip with 1.4x the memory bandwidth (4.8 against 3.35 TB/s). VGG19 costs ~1.3x VGG16;
  five trainings share the GPU at once, each getting a fifth to a half of it.

What comes back (into \$OUT, 8 files at most, 16 MiB each):
  call 1: summary.txt (PASS/FAIL/INFO lines, figures, a verdict per network),
          gpu_check.log, details.tar.gz (training logs, previews, scores.tsv, JSON),
          models/{$(echo $NETWORKS | tr ' ' ',')}.safetensors (the candidates, 1-8 MB each)
  call 2: summary.txt, gpu_check.log, details.tar.gz (benchmark JSON)
A candidate whose verdict says BETTER is installed by the cp command its line prints; the
others stay in the output folder.
EOF
