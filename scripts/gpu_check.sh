#!/usr/bin/env bash
# atelier's CUDA check, one device call (~6 min on one H200): device detection, a 512 px run,
# the memory guard, a deliberate OOM that must be a clean error, one worker per GPU, then
# bench/run.py --device cuda (512/1024/2048 px), the L-BFGS history benchmark on CUDA and
# bench/fast.py if it exists. Everything goes under one folder (default $OUT, else
# ./gpu-check-out): summary.txt (PASS/FAIL/INFO lines and figures), gpu_check.log (all output)
# and details.tar.gz (summaries, images, JSON) -- three files, as the device tool returns few.
#
# Started from ../shared/gpu_smoke.sh (written from a code review, never run on a GPU).
#
# Here (no GPU needed):  bash scripts/gpu_check.sh --prepare
#   builds the release binary and the benchmark, and splits what must travel into two
#   folders (gitignored) under the 64 MiB a device call carries: gpu-carry-a/ (first part of the VGG19
#   weights) and gpu-carry-b/ (the rest, the stripped binaries, the two library images).
# There, in two calls a few seconds apart (the machine stays warm 30 s between calls):
#   run(carry=["gpu-carry-a"], command="mkdir -p /tmp/atelier-carry && cp gpu-carry-a/* /tmp/atelier-carry/")
#   run(carry=["gpu-carry-b"], command="bash scripts/gpu_check.sh", timeout_s=600)
# (The weights alone are 80 MB and their sha256 is checked at load, so they cannot be
# shrunk; if both halves fit one day, one call does it all.)
#
# usage: bash scripts/gpu_check.sh [OUTDIR]     (exit status: the number of failures)
#   env: BIN (atelier binary), LBFGS_BIN, PY (python with torch), CHECK_SIZES (bench sizes)
set -u
H=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1-}" = "--prepare" ]; then
  set -e
  cd "$H"
  export LIBTORCH_USE_PYTORCH=1 PATH="$H/.venv/bin:$PATH"
  cargo build --release --bin atelier --example lbfgs_history
  rm -rf gpu-carry-a gpu-carry-b && mkdir -p gpu-carry-a gpu-carry-b
  W=weights/vgg19.safetensors
  HALF=$(( ($(stat -c %s "$W") + 1) / 2 ))
  head -c "$HALF" "$W" >gpu-carry-a/vgg19.part1
  tail -c +"$((HALF + 1))" "$W" >gpu-carry-b/vgg19.part2
  sha256sum "$W" | cut -d' ' -f1 >gpu-carry-b/vgg19.sha256
  strip -o gpu-carry-b/atelier target/release/atelier
  strip -o gpu-carry-b/lbfgs_history target/release/examples/lbfgs_history
  # The two library images the checks use, with their catalogs (lookup by name).
  cp styles/catalog.json gpu-carry-b/styles.catalog.json
  cp contents/catalog.json gpu-carry-b/contents.catalog.json
  cp contents/chelsea.png gpu-carry-b/
  cp "styles/$(python3 -c "import json;print(next(x['file'] for x in json.load(open('styles/catalog.json')) if x['name']=='irises'))")" gpu-carry-b/
  du -sh gpu-carry-a gpu-carry-b
  exit 0
fi

O=${1:-${OUT:-./gpu-check-out}}; mkdir -p "$O"; O=$(cd "$O" && pwd)
SUM=$O/summary.txt; LOG=$O/gpu_check.log; D=$O/details; mkdir -p "$D"; : >"$SUM"; : >"$LOG"
F=0
say() { echo "$*" | tee -a "$SUM"; }
chk() { if eval "$2"; then say "PASS $1"; else say "FAIL $1"; tail -n 3 "$T/o" | sed 's/^/    /' | tee -a "$SUM"; F=$((F + 1)); fi; }
finish() {
  say "$F failure(s)"
  cp -r "$T"/*.json "$T"/*.png "$T"/w* "$D"/ 2>/dev/null
  tar -C "$O" -czf "$O/details.tar.gz" details 2>/dev/null && rm -rf "$D"
  exit "$F"
}
exec > >(tee -a "$LOG") 2>&1

# --- the carried files back in place -------------------------------------------------------
C=/tmp/atelier-carry
for d in "$H/gpu-carry-a" "$H/gpu-carry-b"; do [ -d "$d" ] && mkdir -p $C && cp -n "$d"/* $C/ 2>/dev/null; done
if [ ! -s "$H/weights/vgg19.safetensors" ] && [ -s $C/vgg19.part1 ] && [ -s $C/vgg19.part2 ]; then
  mkdir -p "$H/weights" && cat $C/vgg19.part1 $C/vgg19.part2 >"$H/weights/vgg19.safetensors"
fi
[ -s $C/vgg19.sha256 ] && { [ "$(sha256sum "$H/weights/vgg19.safetensors" | cut -d' ' -f1)" = "$(cat $C/vgg19.sha256)" ] \
  || { say "FAIL weights reassembled with the wrong sha256 (was gpu-carry-a sent first?)"; exit 1; }; }
mkdir -p "$H/styles" "$H/contents"
[ -s "$H/styles/catalog.json" ] || cp $C/styles.catalog.json "$H/styles/catalog.json" 2>/dev/null
[ -s "$H/contents/catalog.json" ] || cp $C/contents.catalog.json "$H/contents/catalog.json" 2>/dev/null
for f in $C/*.jpg; do [ -e "$f" ] && cp -n "$f" "$H/styles/"; done
[ -e $C/chelsea.png ] && cp -n $C/chelsea.png "$H/contents/"
# bench/run.py runs target/release/atelier: the carried binary goes there.
[ -x "$H/target/release/atelier" ] || { [ -x $C/atelier ] && mkdir -p "$H/target/release" && cp $C/atelier "$H/target/release/"; }
B=${BIN:-$H/target/release/atelier}
LB=${LBFGS_BIN:-$([ -x $C/lbfgs_history ] && echo $C/lbfgs_history || echo "$H/target/release/examples/lbfgs_history")}
PY=${PY:-$(command -v python3)}
# libtorch from the Python torch there (same 2.11 the binary was built against).
TL=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)
[ -n "$TL" ] && export LD_LIBRARY_PATH="$TL${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

T=$(mktemp -d); export ATELIER_HOME=$H XDG_CONFIG_HOME=$T/c XDG_DATA_HOME=$T/d
a() { timeout "$1" "$B" "${@:2}" >"$T/o" 2>&1; R=$?; cat "$T/o" >>"$LOG"; }   # atelier: output in $T/o, status in $R
used() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | awk '{s += $1} END {print s + 0}'; }

# --- detection -----------------------------------------------------------------------------
say "INFO $(date -u +%FT%TZ) host $(hostname)"
say "INFO GPUs: $(nvidia-smi --query-gpu=index,uuid,name,driver_version,memory.free,memory.total --format=csv,noheader | tr '\n' ';')"
say "INFO CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset} torch lib: ${TL:-not found}"
ldd "$B" | grep -E 'libtorch(_cuda)?\.so|not found' | sed 's/^/    /'
S="stylize chelsea irises --device"
a 60 $S cuda --size 512 --dry-run -o "$T/x.png"; grep -i memory "$T/o" | sed 's/^/    /' | tee -a "$SUM"
chk "cuda:0 found, free memory read" '[ $R = 0 ] && grep -q "MiB free" "$T/o"'; [ $F = 0 ] || finish
a 60 $S auto --size 512 --dry-run -o "$T/x.png"; chk "--device auto picks a GPU" '[ $R = 0 ] && grep -q "cuda:" "$T/o"'
G=$(nvidia-smi -L | grep -c '^GPU'); say "INFO workers below: $G"
a 60 $S cuda:64 --dry-run -o "$T/x.png"; chk "cuda:64 refused, no panic" '[ $R = 1 ] && grep -q "device(s) exist" "$T/o" && ! grep -q panicked "$T/o"'
a 60 $S cuda --size 8192 --dry-run -o "$T/x.png"; chk "guard refuses 8192 px" '[ $R = 1 ] && grep -q "free on cuda:0" "$T/o"'

# --- a 512 px run ---------------------------------------------------------------------------
U=$(used); M=$U; t0=$SECONDS
"$B" $S cuda --size 512 --steps 500 --summary-json "$T/run512.json" -o "$T/run512.png" >"$T/o" 2>&1 & P=$!
while kill -0 $P 2>/dev/null; do u=$(used); ((u > M)) && M=$u; ((SECONDS - t0 > 150)) && kill $P; sleep 0.5; done; wait $P; R=$?
cat "$T/o" >>"$LOG"
chk "512 px, 500 steps on cuda:0" '[ $R = 0 ] && [ -s "$T/run512.png" ] && grep -q "\"device\": \"cuda:0\"" "$T/run512.json"'
say "INFO 512 px, 500 L-BFGS steps: $((SECONDS - t0)) s wall (binary start and weights included); $(grep -m1 finished "$T/o")"
say "INFO GPU memory taken by that run (nvidia-smi): $((M - U)) MiB"
for i in 1 2; do a 120 $S cuda --size 384 --steps 30 --scales 2 --init noise --seed 7 --preserve-colors histogram \
  --style-loss both --summary-json "$T/n$i.json" -o "$T/n$i.png"; done
chk "pyramid, noise init, histogram colours, MRF on CUDA" '[ $R = 0 ] && [ -s "$T/n2.png" ]'
a 120 $S cuda --size 512 --steps 40 --tile 256 --preserve-colors luminance -o "$T/t.png"; chk "tiles, luminance on CUDA" '[ $R = 0 ]'

# --- a deliberate OOM: the MRF match response at 3072 px is ~670 GiB -------------------------
a 150 $S cuda --size 3072 --style-loss mrf --steps 5 --force -o "$T/m.png"
chk "CUDA OOM is a clean error" '[ $R = 1 ] && grep -q "ran out of memory" "$T/o" && ! grep -q panicked "$T/o"'

# --- one worker per GPU -------------------------------------------------------------------
q() { "$B" queue add chelsea irises --device cuda --steps 60 "$@" >/dev/null; }
q --size 3072 --style-loss mrf --priority 9; q --size 384; q --size 384
for d in $(seq 0 $((G - 1))); do timeout 240 "$B" worker --device cuda:$d --exit-when-idle --log-every 0 >"$T/w$d.log" 2>&1 & done
sleep 8; nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader; wait
"$B" runs ls --json >"$T/o"; cp "$T/o" "$T/runs.json"
chk "workers: OOM run failed, the other two done" '[ $(grep -c "\"status\": \"done\"" "$T/o") = 2 ] && grep -q "out of memory" "$T/o"'
chk "no worker panicked" '! grep -q panicked "$T"/w*.log'
[ "$G" -ge 2 ] && chk "runs on two GPUs" 'grep -q "\"device\": \"cuda:0\"" "$T/o" && grep -q "\"device\": \"cuda:1\"" "$T/o"'

# --- benchmarks ----------------------------------------------------------------------------
say "INFO bench/run.py --device cuda (s/eval, ours vs PyTorch):"
PYTHONUNBUFFERED=1 timeout 300 "$PY" "$H/bench/run.py" --device cuda --sizes "${CHECK_SIZES:-512,1024,2048}" \
  --steps 20 --repeat 1 --content "$H/contents/chelsea.png" --style "$(ls "$H"/styles/*.jpg | head -n 1)" >"$T/bench.txt" 2>&1; R=$?; sed 's/^/    /' "$T/bench.txt" | tee -a "$SUM"; chk "bench/run.py on CUDA" '[ $R = 0 ]'
say "INFO the same at 1024 px with cuDNN's autotuner off (ATELIER_CUDNN_BENCHMARK=0; on is the default):"
ATELIER_CUDNN_BENCHMARK=0 PYTHONUNBUFFERED=1 timeout 120 "$PY" "$H/bench/run.py" --device cuda --sizes 1024 \
  --steps 20 --repeat 1 --content "$H/contents/chelsea.png" --style "$(ls "$H"/styles/*.jpg | head -n 1)" >"$T/bench_nocudnnbench.txt" 2>&1
sed 's/^/    /' "$T/bench_nocudnnbench.txt" | tee -a "$SUM"
say "INFO L-BFGS history benchmark on CUDA (ms/iteration, old per-pair two-loop vs batched):"
timeout 120 "$LB" --device cuda --sizes 512,1024,2048 --history 10,100 --iters 20 --rounds 2 --threads 0 \
  --json "$T/lbfgs_cuda.json" >"$T/lbfgs.txt" 2>&1; R=$?
sed 's/^/    /' "$T/lbfgs.txt" | tee -a "$SUM"; chk "L-BFGS benchmark on CUDA" '[ $R = 0 ]'
if [ -f "$H/bench/fast.py" ]; then
  timeout 120 "$PY" "$H/bench/fast.py" --device cuda >"$T/fast.txt" 2>&1; R=$?
  sed 's/^/    /' "$T/fast.txt" | tee -a "$SUM"; chk "bench/fast.py on CUDA" '[ $R = 0 ]'
else
  say "INFO bench/fast.py not in this checkout: fast-style apply benchmark skipped"
fi
finish
