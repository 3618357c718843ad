#!/usr/bin/env bash
# The train stage of scripts/gpu_check.sh: every bundled network retrained at full width
# (width 1) on the training photos (and, for adain, paintings) without the held-out ones.
# All train at once: one GPU holds them all, and small batches leave it idle between
# kernels that another training can fill. Each is stopped by its budget (SIGINT: atelier
# writes a checkpoint and stops); the same command with --resume --iterations at that
# checkpoint saves it as the model, so a timeout keeps the training done so far. Then the
# candidate and the bundled model stylize held-out photos (with held-out paintings where
# the network takes any painting), `atelier score` measures both outputs, and a verdict
# per network says whether the candidate is better. Nothing is copied into models/.
set -u
source "$(dirname "$0")/common.sh"
T=$W/train
D=$W/details
mkdir -p "$O/models"
rm -f "$O/models/"*.safetensors # the candidates of an earlier run into this folder

# --- the training sets, without the held-out photos and paintings ---------------------------
training_sets "$T/photos" "$T/paintings"
say "INFO training set: $(ls "$T/photos" | wc -l) photos from $DATA_SRC, $(ls "$T/paintings" | wc -l) paintings" \
  "from $PAINT_SRC; held out: photos $HOLD_PHOTOS; paintings $HOLD_PAINTINGS"

# --- what to train: each bundled network, by its architecture -------------------------------
bundled | cut -d" " -f1,2,4- >"$T/networks.txt"

# fit LOG SECONDS ITERATIONS ARGS...: `atelier train ARGS` for at most SECONDS; stopped by
# the budget, the checkpoint written at the stop (else the last periodic one) is saved.
fit() {
  local log=$1 secs=$2 iters=$3 k
  shift 3
  timeout -s INT -k 60 "$secs" "$B" train "$@" --iterations "$iters" >>"$log" 2>&1
  case $? in
    0) return 0 ;;
    124 | 130 | 137)
      k=$(sed -n 's/^checkpoint at \([0-9]*\):.*/\1/p' "$log" | tail -n 1)
      [ -n "$k" ] || { echo "no checkpoint within the $secs s budget" >>"$log"; return 1; }
      echo "stopped by the $secs s budget; saving the checkpoint of iteration $k" >>"$log"
      "$B" train "$@" --iterations "$k" --resume >>"$log" 2>&1
      ;;
    *) return 1 ;;
  esac
}
# The STOP_LANE network trains until its budget stops it, as every one does on a GPU.
iters() { if [ "$1" = "$STOP_LANE" ]; then echo 1000000; else echo "$2"; fi; }
secs() { if [ "$1" = "$STOP_LANE" ]; then echo "$STOP_S"; else echo "$TRAIN_S"; fi; }

lane() { # NAME KIND ARGS...: one network's training, into $O/models/NAME.safetensors
  local name=$1 kind=$2 out=$O/models/$1.safetensors
  shift 2
  local log=$D/train-$name.log
  local common=(--dataset "$T/photos" --size "$CROP" --width 1 --device "$DEV" --log-every 50
    --preview "$H/contents/chelsea.png" -o "$out")
  case $kind in
    johnson | cin)
      local st=("$1")
      [ "$kind" = cin ] && st=($(printf -- '--style %s ' "$@"))
      fit "$log" "$(secs "$name")" "$(iters "$name" "$ITERS_FAST")" "${st[@]}" "${common[@]}" \
        --style-size "$STYLE_PX" --batch "$BATCH_FAST" --style-weight 0.3 --lr 1e-3 \
        --checkpoint-every "$CKPT_FAST" --preview-every "$CKPT_FAST"
      ;;
    adain)
      fit "$log" "$(secs "$name")" "$(iters "$name" "$ITERS_ARB")" --arch adain --style-dir "$T/paintings" \
        "${common[@]}" --batch "$BATCH_ARB" --lr 1e-4 --style-weight 10 \
        --checkpoint-every "$CKPT_ARB" --preview-every "$CKPT_ARB"
      ;;
    wct) # the bundled levels one after the other, level L given L shares of the budget
      local sum=0 l
      for l in "$@"; do sum=$((sum + l)); done
      for l in "$@"; do
        fit "$D/train-$name-$l.log" $((TRAIN_S * l / sum)) "$(iters "$name" "$ITERS_ARB")" --arch wct --level "$l" \
          "${common[@]}" --batch "$BATCH_ARB" --lr 1e-3 --checkpoint-every "$CKPT_ARB" --preview-every "$CKPT_ARB" || return 1
      done
      ;;
    *) echo "no training recipe for a bundled model of this architecture: $*" >>"$log"; return 1 ;;
  esac
}

t0=$SECONDS
lanes=$(wc -l <"$T/networks.txt")
while read -r name kind args; do
  # libtorch's CPU threads shared out: the CPU work of a GPU training is small.
  OMP_NUM_THREADS=$(($(nproc) / lanes > 0 ? $(nproc) / lanes : 1)) lane "$name" "$kind" $args &
done <"$T/networks.txt"
wait
say "INFO the $lanes trainings took $((SECONDS - t0)) s together"
cp "$W/d/atelier/training/"*.preview.png "$D/" 2>/dev/null

# One line per finished training, from its log: the saved model's iterations and seconds,
# the rate, and how far apart the checkpoints came.
report() { # NAME LOG CHECKPOINT-EVERY
  local saved n s stop=""
  saved=$(grep -o '^saved .*' "$2" | tail -n 1 | sed 's/^saved [^ ]* //')
  n=$(echo "$saved" | sed -n 's/.*[( ]\([0-9][0-9]*\) iterations, .*/\1/p')
  s=$(echo "$saved" | sed -n 's/.* iterations, \([0-9][0-9]*\) s,.*/\1/p')
  grep -q '^stopped by the' "$2" && stop="; $(grep -m1 '^stopped by the' "$2")"
  if [ -n "$n" ] && [ -n "$s" ] && [ "$s" -gt 0 ]; then
    echo "$1: ${saved}; $(awk -v n="$n" -v s="$s" -v c="$3" 'BEGIN { printf "%.2f it/s, a checkpoint every %d iterations = %.0f s", n / s, c, c * s / n }')$stop"
  else
    echo "$1: ${saved:-nothing saved}$stop"
  fi
}
while read -r name kind args; do
  f=$O/models/$name.safetensors
  if [ "$kind" = wct ]; then
    for l in $args; do say "INFO train $(report "$name level $l" "$D/train-$name-$l.log" "$CKPT_ARB")"; done
  fi
  if [ -s "$f" ] && "$B" models show "$f" >"$W/o" 2>&1; then
    [ "$kind" = wct ] && say "PASS train $name: levels $args in $f" || say "PASS train $(report "$name" "$D/train-$name.log" "$([ "$kind" = adain ] && echo "$CKPT_ARB" || echo "$CKPT_FAST")")"
  else
    say "FAIL train $name: no model (see details/train-$name*.log)"
    tail -n 3 "$D/train-$name"*.log | sed 's/^/    /' | tee -a "$SUM"
  fi
done <"$T/networks.txt"

# --- held-out scores: candidate against bundled ------------------------------------------------
S=$T/score
score_pairs() { # NAME KIND ARGS...: "STYLE-OR-PAINTING" lines to stylize the held-out photos with
  case $2 in
    johnson) echo "$3" ;;
    cin) shift 2; printf '%s\n' "$@" | head -n "$CIN_SCORED" ;;
    *) printf '%s\n' $HOLD_PAINTINGS ;;
  esac
}
: >"$D/scores.tsv"
while read -r name kind args; do # one task per model and style: NAME WHICH MODEL STYLE KIND
  [ -s "$O/models/$name.safetensors" ] || continue
  score_pairs "$name" "$kind" $args | while read -r st; do
    echo "$name candidate $O/models/$name.safetensors $st $kind"
    echo "$name bundled $name $st $kind"
  done
done <"$T/networks.txt" >"$T/score-tasks.txt"
t0=$SECONDS
while read -r name which m st kind; do
  opt=()
  [ "$kind" = johnson ] || opt=(--style "$st")
  out=$S/$name/$which/$st/
  pool "$JOBS"
  if [ $((SECONDS - t0)) -ge "$SCORE_S" ]; then
    echo "not scored: $which with $st, past the $SCORE_S s of scoring" >>"$D/score-$name.log"
    continue
  fi
  { timeout -k 10 "$SCORE_S" "$B" apply "$m" $HOLD_PHOTOS "${opt[@]}" --size "$PX" --device "$DEV" -o "$out" >>"$D/score-$name.log" 2>&1 &&
    for ph in $HOLD_PHOTOS; do
      timeout -k 10 "$SCORE_S" "$B" score "$out$ph"__*.png "$ph" "$st" --size "$PX" --device "$DEV" --json 2>>"$D/score-$name.log" |
        python3 -c 'import json, sys; j = json.load(sys.stdin); print(*sys.argv[1:], j["content"], j["style"], j["total"], sep="\t")' \
          "$name" "$which" "$ph" "$st" >>"$D/scores.tsv"
    done; } &
done <"$T/score-tasks.txt"
wait
say "INFO held-out scores took $((SECONDS - t0)) s ($(wc -l <"$D/scores.tsv") images scored at $PX px)"

# The verdict: the mean over pairs of candidate / bundled stylize loss (the total of
# `atelier score`, stylize's default weights); below 1 the candidate is better.
python3 - "$D/scores.tsv" "$T/networks.txt" "$O" <<'EOF' | tee -a "$SUM"
import collections, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
got = collections.defaultdict(dict)
for name, which, photo, style, c, s, t in rows:
    got[name].setdefault((photo, style), {})[which] = (float(c), float(s), float(t))
for line in open(sys.argv[2]):
    name = line.split()[0]
    pairs = [v for v in got.get(name, {}).values() if len(v) == 2]
    if not pairs:
        print(f"FAIL score {name}: no held-out pair scored for both models (see details/score-{name}.log)")
        continue
    ratio = statistics.mean(v["candidate"][2] / v["bundled"][2] for v in pairs)
    mean = lambda which, i: statistics.mean(v[which][i] for v in pairs)
    figures = (f"stylize loss candidate/bundled {ratio:.2f} over {len(pairs)} held-out pairs "
               f"(mean content {mean('candidate', 0):.3e} vs {mean('bundled', 0):.3e}, "
               f"style {mean('candidate', 1):.3e} vs {mean('bundled', 1):.3e})")
    print(f"PASS score {name}: {figures}")
    if ratio < 1:
        print(f"INFO verdict {name}: BETTER than the bundled model; to use it: "
              f"cp {sys.argv[3]}/models/{name}.safetensors models/{name}.safetensors")
    else:
        print(f"INFO verdict {name}: not better; the bundled model stays")
EOF
exit 0
