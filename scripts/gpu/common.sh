# Sourced by scripts/gpu_check.sh and by each stage (smoke.sh, train.sh, bench.sh): the
# sizes and budgets of the mode, and the helpers that write the summary and the log.
# From gpu_check.sh's environment: H (checkout), O (output folder), W (work folder),
# MODE (gpu | rehearse), B (the atelier binary), DATA_SRC and PAINT_SRC (photos and
# paintings to train on).

SUM=$O/summary.txt
LOG=$O/gpu_check.log
# Seconds the stage scripts themselves have (each runs under its own `timeout`).
if [ "$MODE" = rehearse ]; then
  DEV=cpu
  PX=64                    # Gatys, apply and score size
  SMOKE_STEPS=3
  SMOKE_S=${SMOKE_S:-180}
  TRAIN_S=${TRAIN_S:-90}   # each training lane's cap (toy iterations end sooner)
  STOP_LANE=wheat-field-with-cypresses # rehearses a training stopped by its budget,
  STOP_S=${STOP_S:-25}                 # which is how every training ends on a GPU
  SCORE_S=${SCORE_S:-120}
  BENCH_S=${BENCH_S:-180}
  CROP=32 STYLE_PX=64 BATCH_FAST=1 BATCH_ARB=1
  ITERS_FAST=4 ITERS_ARB=3 CKPT_FAST=2 CKPT_ARB=2
  HOLD_PHOTOS="chelsea"
  HOLD_PAINTINGS="irises"
  CIN_SCORED=1             # styles of cin-eight scored
  PAINTINGS_MAX=3          # adain paintings (each is decoded when training starts)
  BENCH_SIZES="64" BENCH_STEPS=3 LBFGS_PX=64 LBFGS_EVALS=10 APPLY_SIZES="64" APPLY_PHOTOS="chelsea"
  APPLY_BUNDLED=0          # the smoke stage applied them already
  JOBS=2
else
  DEV=cuda
  PX=512
  SMOKE_STEPS=100
  SMOKE_S=${SMOKE_S:-120}
  TRAIN_S=${TRAIN_S:-300}
  STOP_LANE= STOP_S=$TRAIN_S
  SCORE_S=${SCORE_S:-90}
  BENCH_S=${BENCH_S:-150}
  # The papers' settings: Johnson et al. 256 px crops, batch 4, 40k iterations; Huang &
  # Belongie batch 8, 160k. The budget ends them sooner; the record says where.
  CROP=256 STYLE_PX=512 BATCH_FAST=4 BATCH_ARB=8
  ITERS_FAST=40000 ITERS_ARB=160000
  # About a minute apart at the rates estimated for five trainings sharing one H100
  # (about 5 it/s fast style, 3 it/s decoders); the summary gives the real interval.
  CKPT_FAST=300 CKPT_ARB=180
  # Held out of every training set: models/README.md names the four paintings the
  # bundled adain never saw; the photos are the bundled contents' first three.
  HOLD_PHOTOS="chelsea astronaut coffee"
  HOLD_PAINTINGS="wheat-field-with-cypresses irises study-for-a-sunday-on-la-grande-jatte mada-primavesi"
  CIN_SCORED=8
  PAINTINGS_MAX=100000
  BENCH_SIZES="512 1024 2048" BENCH_STEPS=20 LBFGS_PX=512 LBFGS_EVALS=500 APPLY_SIZES="512 1024"
  APPLY_PHOTOS="chelsea astronaut coffee" APPLY_BUNDLED=1
  JOBS=8
fi
NETWORKS="irises wheat-field-with-cypresses cin-eight adain wct"

say() { echo "$*" | tee -a "$SUM"; }
# chk NAME TEST: a PASS line, or a FAIL line with the end of the last command's output.
chk() {
  if eval "$2"; then
    say "PASS $1"
  else
    say "FAIL $1"
    tail -n 3 "$W/o" | sed 's/^/    /' | tee -a "$SUM"
  fi
}
# a SECONDS ARGS...: atelier under a time limit; its output in $W/o (and the log), its status in $R.
a() {
  timeout -k 10 "$1" "$B" "${@:2}" >"$W/o" 2>&1
  R=$?
  cat "$W/o" >>"$LOG"
}
# A JSON field of a file or of standard input: jget FILE EXPR ('j' is the document).
jget() { python3 -c "import json, sys; j = json.load(open(sys.argv[1])); print($2)" "$1"; }
# The file of a bundled painting or photo by name or id, from the folder's catalog.
catalog_file() { jget "$H/$1/catalog.json" "next(e['file'] for e in j if '$2' in (e['name'], e['id']))"; }
# Waits until fewer than N background jobs run.
pool() { while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do wait -n; done; }

# training_sets PHOTOS PAINTINGS: the photos of DATA_SRC and the paintings of PAINT_SRC
# (at most PAINTINGS_MAX, the smallest files first) into the two folders, the held-out
# ones left out; hard links where the file system allows.
training_sets() {
  local f s held=" " held_files
  mkdir -p "$1" "$2"
  for s in $HOLD_PHOTOS; do held+="$s skimage-$s "; done # datasets/photos names skimage's photos so
  for f in "$DATA_SRC"/*; do
    s=${f##*/}
    case $held in *" ${s%.*} "*) continue ;; esac
    case ${s,,} in *.jpg | *.jpeg | *.png | *.webp) ln "$f" "$1/$s" 2>/dev/null || cp "$f" "$1/$s" ;; esac
  done
  held_files=" $(for s in $HOLD_PAINTINGS; do catalog_file styles "$s"; done | tr '\n' ' ') "
  ls -Sr "$PAINT_SRC"/*.jpg 2>/dev/null | while read -r f; do
    case $held_files in *" ${f##*/} "*) ;; *) echo "$f" ;; esac
  done | head -n "$PAINTINGS_MAX" | while read -r f; do ln "$f" "$2/${f##*/}" 2>/dev/null || cp "$f" "$2/${f##*/}"; done
}
# The bundled models, one line each: NAME KIND PATH ARGS (scripts/gpu/models.py).
bundled() { "$B" models ls --json >"$W/models.json" && python3 "$H/scripts/gpu/models.py" "$W/models.json"; }
