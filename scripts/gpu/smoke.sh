#!/usr/bin/env bash
# The smoke stage of scripts/gpu_check.sh: does atelier work on this device at all. On the
# CPU (a rehearsal) the GPU-only checks are left out and say so.
set -u
source "$(dirname "$0")/common.sh"
S="stylize chelsea irises"
gpu() { [ "$MODE" = gpu ]; }

if gpu; then
  say "INFO GPUs: $(nvidia-smi --query-gpu=index,uuid,name,driver_version,memory.free,memory.total --format=csv,noheader | tr '\n' ';')"
  say "INFO CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}"
  ldd "$B" | grep -E 'libtorch(_cuda)?\.so|not found' | sed 's/^/    /'
else
  say "INFO rehearsal on the CPU: nvidia-smi, --device auto and the out-of-memory run need a GPU and are left out"
fi

a 60 $S --device $DEV --size $PX --dry-run -o "$W/x.png"
grep -i memory "$W/o" | sed 's/^/    /' | tee -a "$SUM"
free=$(sed -n 's/.* \([0-9][0-9]*\) MiB free.*/\1/p' "$W/o" | head -n 1)
chk "$DEV found, free memory read (${free:-?} MiB)" '[ $R = 0 ] && [ -n "$free" ]'
[ $R = 0 ] && [ -n "$free" ] || exit 3 # no device: nothing below or in the later stages can work
if gpu; then
  # cuda:0 is the first visible GPU; nvidia-smi, read after atelier's context is gone,
  # sees that much more free.
  gid=${CUDA_VISIBLE_DEVICES:-0}
  smi=$(nvidia-smi -i "${gid%%,*}" --query-gpu=memory.free --format=csv,noheader,nounits | head -n 1)
  chk "free memory is that of the GPU cuda:0 names (atelier $free MiB, nvidia-smi ${smi:-?} MiB)" \
    '[ -n "$smi" ] && [ $((smi - free)) -ge -512 ] && [ $((smi - free)) -le 2048 ]'
  a 60 $S --device auto --size $PX --dry-run -o "$W/x.png"
  chk "--device auto picks a GPU" '[ $R = 0 ] && grep -q "cuda:" "$W/o"'
fi
a 60 $S --device cuda:64 --dry-run -o "$W/x.png"
chk "cuda:64 refused in one line, no panic" '[ $R = 1 ] && grep -q "^error: " "$W/o" && ! grep -q panicked "$W/o"'
a 60 $S --device $DEV --size 16384 --dry-run -o "$W/x.png"
chk "the memory guard refuses 16384 px" '[ $R = 1 ] && grep -q "free on" "$W/o"'

t0=$SECONDS
a 150 $S --device $DEV --size $PX --steps $SMOKE_STEPS --log-every 0 \
  --summary-json "$W/details/smoke-gatys.json" -o "$W/details/smoke-gatys.png"
chk "Gatys at $PX px, $SMOKE_STEPS L-BFGS steps on $DEV in $((SECONDS - t0)) s wall: $(grep -m1 finished "$W/o")" \
  '[ $R = 0 ] && grep -q "\"device\": \"$DEV" "$W/details/smoke-gatys.json"'

# Every bundled model: a multi-style or an arbitrary-style one takes a --style.
bundled >"$W/bundled.txt"
while read -r m kind _; do
  opt=()
  [ "$kind" = johnson ] || opt=(--style irises)
  a 120 apply "$m" chelsea "${opt[@]}" --size $PX --device $DEV -o "$W/details/smoke-apply-$m.png"
  chk "apply $m on $DEV ($(grep -o '[0-9.]* s)$' "$W/o" | tr -d ')'))" '[ $R = 0 ]'
done <"$W/bundled.txt"
[ -s "$W/bundled.txt" ] || say "FAIL no bundled model found (models/)"

if gpu; then
  # MRF at 3072 px: relu3_1's match response alone is ~670 GiB, asked for at the first evaluation.
  a 100 $S --device cuda --size 3072 --style-loss mrf --steps 5 --force -o "$W/m.png"
  chk "CUDA out of memory is a clean error" '[ $R = 1 ] && grep -q "ran out of memory" "$W/o" && ! grep -q panicked "$W/o"'
fi

# One worker per GPU (on the CPU: one CPU worker), until the queue is empty.
q() { "$B" queue add chelsea irises --device $DEV --steps $SMOKE_STEPS "$@" >>"$LOG" 2>&1; }
gpu && q --size 3072 --style-loss mrf --priority 9
q --size $PX
q --size $PX
timeout -k 10 100 "$B" worker --all-gpus --exit-when-idle --log-every 0 >"$W/o" 2>&1
R=$?
cat "$W/o" >>"$LOG"
"$B" runs ls --json >"$W/details/smoke-runs.json"
done_runs=$(grep -c '"status": "done"' "$W/details/smoke-runs.json")
if gpu; then
  chk "workers: the out-of-memory run failed, the other two done, no panic" \
    '[ $done_runs = 2 ] && grep -q "out of memory" "$W/details/smoke-runs.json" && ! grep -q panicked "$W/o"'
  [ "$(nvidia-smi -L | grep -c '^GPU')" -ge 2 ] && chk "runs on two GPUs" \
    'grep -q "\"device\": \"cuda:0\"" "$W/details/smoke-runs.json" && grep -q "\"device\": \"cuda:1\"" "$W/details/smoke-runs.json"'
else
  chk "a worker ran both queued runs, no panic" '[ $R = 0 ] && [ $done_runs = 2 ] && ! grep -q panicked "$W/o"'
fi
exit 0
