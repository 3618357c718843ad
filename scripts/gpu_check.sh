#!/usr/bin/env bash
# atelier on a GPU, in three stages, each under its own time budget:
#   smoke  (2 min)  the device seen with its free memory, a 512 px Gatys run, every bundled
#                   model applied, an out-of-memory run that must be a clean error, one
#                   worker per GPU;
#   train  (bulk)   every bundled network retrained at full width, all at once, each
#                   stopped by the budget at its last checkpoint, then scored with
#                   `atelier score` on held-out photos and paintings against the bundled one;
#   bench           s/eval at 512/1024/2048 px, 500 L-BFGS evaluations at 512 px, apply times.
# Everything is written into one folder as it goes: summary.txt (PASS/FAIL/INFO lines with
# figures and a verdict per network), gpu_check.log (all output), models/NAME.safetensors
# (the candidate of each bundled network) and details.tar.gz (training logs, scores,
# benchmark JSON, previews). The exit status is the number of FAIL lines.
#
# usage: scripts/gpu_check.sh [--stages smoke,train,bench] [OUTDIR]   on a machine with CUDA
#        scripts/gpu_check.sh --rehearse OUTDIR   the same on the CPU at toy sizes (minutes)
#        scripts/gpu_check.sh --prepare           the carry for a machine reached with a
#                                                 64 MiB copy limit, and the commands to run there
# OUTDIR defaults to gpu-check-out/ in the checkout. env: BIN (the atelier binary), SMOKE_S, TRAIN_S
# (each training's seconds), SCORE_S, BENCH_S (the budgets, in seconds).
set -u
H=$(cd "$(dirname "$0")/.." && pwd)
GS=$H/scripts/gpu
MODE=gpu
STAGES=smoke,train,bench
O=
while [ $# -gt 0 ]; do
  case $1 in
    --prepare) exec bash "$GS/prepare.sh" ;;
    --rehearse) MODE=rehearse O=${2:?--rehearse needs an output folder}; shift 2 ;;
    --stages) STAGES=${2:?--stages needs a list, e.g. smoke,train}; shift 2 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) O=$1; shift ;;
  esac
done
for s in ${STAGES//,/ }; do
  case $s in smoke | train | bench) ;; *) echo "gpu_check: unknown stage $s (smoke, train, bench)" >&2; exit 2 ;; esac
done
O=${O:-$H/gpu-check-out}
if [ -d "$O" ] && [ -n "$(ls -A "$O")" ] && [ ! -e "$O/summary.txt" ]; then
  echo "gpu_check: $O is not empty and holds no summary.txt: not an output folder of this script; name another" >&2
  exit 2
fi
mkdir -p "$O" && O=$(cd "$O" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
mkdir -p "$W/details"
export H O W MODE
source "$GS/common.sh"
: >"$SUM"
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
TEE=$!

# --- what --prepare carried, back in place (only on a machine that lacks it) --------------
C=$H/gpu-carry
unxz_to() { # FILE.xz DEST: through a temporary name, with python's lzma where xz is missing
  mkdir -p "$(dirname "$2")"
  if command -v xz >/dev/null; then xz -dc "$1" >"$2.tmp"; else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2.tmp"
  fi && mv "$2.tmp" "$2"
}
if [ -d "$C" ]; then
  [ -s "$H/weights/vgg19.safetensors" ] || unxz_to "$C/vgg19.safetensors.xz" "$H/weights/vgg19.safetensors"
  [ -x "$H/target/release/atelier" ] || { unxz_to "$C/atelier.xz" "$H/target/release/atelier" && chmod +x "$H/target/release/atelier"; }
  for d in styles contents; do cp -n "$C/$d"/* "$H/$d/" 2>/dev/null; done
fi
B=${BIN:-$H/target/release/atelier}
# libtorch from the Python torch of the machine when the binary does not find its own.
if ldd "$B" 2>/dev/null | grep -q 'libtorch.*not found'; then
  TL=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
  [ -n "$TL" ] && export LD_LIBRARY_PATH="$TL${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# Training data: the carry's, else the checkout's dataset, else (a rehearsal, or a box
# without `make dataset`) the bundled photos; the stages leave the held-out ones out.
if [ -d "$C/photos" ]; then
  DATA_SRC=$C/photos PAINT_SRC=$C/paintings
elif [ -n "$(ls "$H/datasets/photos" 2>/dev/null)" ]; then
  DATA_SRC=$H/datasets/photos PAINT_SRC=$H/styles
else
  DATA_SRC=$H/contents PAINT_SRC=$H/styles
fi
export B DATA_SRC PAINT_SRC ATELIER_HOME=$H XDG_CONFIG_HOME=$W/c XDG_DATA_HOME=$W/d RUST_BACKTRACE=0

say "INFO $(date -u +%FT%TZ) $MODE run on $(hostname): stages $STAGES, output $O"
say "INFO binary $B ($("$B" --version 2>&1)), training photos from $DATA_SRC, paintings from $PAINT_SRC"
[ "$DATA_SRC" = "$H/contents" ] && [ "$MODE" = gpu ] &&
  say "INFO no datasets/photos here (make dataset): training on the few bundled photos, far too few for a useful model"

budget() { case $1 in smoke) echo "$SMOKE_S" ;; train) echo $((TRAIN_S + SCORE_S + 60)) ;; bench) echo "$BENCH_S" ;; esac; }
for s in ${STAGES//,/ }; do
  say "== $s (budget $(budget "$s") s)"
  t0=$SECONDS
  timeout -k 15 "$(budget "$s")" bash "$GS/$s.sh"
  r=$?
  [ $r = 124 ] || [ $r = 137 ] && say "FAIL $s: out of its $(budget "$s") s budget; what it did is above"
  say "INFO $s took $((SECONDS - t0)) s"
  tar -C "$W" -czf "$O/details.tar.gz.tmp" details && mv "$O/details.tar.gz.tmp" "$O/details.tar.gz"
  [ $r = 3 ] && { say "INFO no $DEV device: the later stages are not run"; break; }
done
n=$(grep -c '^FAIL' "$SUM")
say "$n failure(s)"
rm -rf "$W"
exec >&- 2>&-
wait "$TEE" # the log is whole before the exit
exit "$n"
