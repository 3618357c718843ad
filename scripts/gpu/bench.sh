#!/usr/bin/env bash
# The bench stage of scripts/gpu_check.sh: seconds per evaluation of a Gatys run at each
# size, a long L-BFGS run, and the apply time of every model (bundled, and the candidates
# the train stage left in the output folder). Each figure is one run: the machine is
# assumed otherwise idle.
set -u
source "$(dirname "$0")/common.sh"
D=$W/details
S="stylize chelsea irises --device $DEV --log-every 0"

# s/eval from the run's trace, the first evaluation (set-up, autotuning) left out.
per_eval() { jget "$1" "'%.4f' % ((j['trace']['seconds'][-1] - j['trace']['seconds'][0]) / max(1, len(j['trace']['seconds']) - 1))"; }
for px in $BENCH_SIZES; do
  a 120 $S --size "$px" --steps "$BENCH_STEPS" --summary-json "$D/bench-$px.json" -o "$W/bench-$px.png"
  chk "Gatys s/eval at $px px on $DEV: $([ $R = 0 ] && per_eval "$D/bench-$px.json") ($BENCH_STEPS L-BFGS steps)" '[ $R = 0 ]'
done

t0=$SECONDS
a 300 $S --size "$LBFGS_PX" --steps "$LBFGS_EVALS" --summary-json "$D/bench-lbfgs.json" -o "$W/bench-lbfgs.png"
chk "$LBFGS_EVALS L-BFGS evaluations at $LBFGS_PX px: $((SECONDS - t0)) s wall, $([ $R = 0 ] && per_eval "$D/bench-lbfgs.json") s/eval; $(grep -m1 finished "$W/o")" '[ $R = 0 ]'

# Apply: the photos in one process (on a GPU three; the first one's time includes the warm-up).
# The bundled models, and the candidates the train stage left in the output folder.
models=
while read -r m kind path; do
  [ "$APPLY_BUNDLED" = 1 ] && models+="$m $kind $path"$'\n'
  [ -e "$O/models/$m.safetensors" ] && models+="candidate-$m $kind $O/models/$m.safetensors"$'\n'
done < <(bundled | cut -d" " -f1-3)
for px in $APPLY_SIZES; do
  while read -r m kind path; do
    [ -n "$m" ] || continue
    opt=()
    [ "$kind" = johnson ] || opt=(--style irises)
    a 120 apply "$path" $APPLY_PHOTOS "${opt[@]}" --size "$px" --device "$DEV" -o "$W/apply-$m-$px/"
    chk "apply $m at $px px on $DEV: $(grep -o '[0-9.]* s)$' "$W/o" | tr -d ')' | tr '\n' ' ')per photo" '[ $R = 0 ]'
  done <<<"${models%$'\n'}"
done
exit 0
