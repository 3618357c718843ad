#!/usr/bin/env bash
# Time per analogy (PatchMatch, reconstruction, rest) at 128, 224 and 448 px,
# --fast, 10 and 100 L-BFGS iterations, one thread; one line per run from
# each run's --summary-json. Usage: bench/analogy_time.sh [A] [B′] (astronaut
# and portrait-of-a-young-man by default). The 448 px default run takes ~10 min here.
set -euo pipefail
cd "$(dirname "$0")/.."
A=${ATELIER:-target/release/atelier}
a=${1:-astronaut}; b=${2:-portrait-of-a-young-man}
out=$(mktemp -d)
for cfg in "128 --fast" "128 --iterations 10" "224 --fast" "224 --iterations 10" \
           "224 --iterations 100" "448 --fast" "448 --iterations 10" "448 --iterations 100"; do
  set -- $cfg; s=$1; shift
  OMP_NUM_THREADS=1 "$A" --data-dir "$out/data" analogy "$a" "$b" --size "$s" "$@" --threads 1 \
    -o "$out/a.png" --summary-json "$out/t.json" >/dev/null 2>"$out/log" || { cat "$out/log"; exit 1; }
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); t=d['seconds']; print(sys.argv[2], d['size_a'], d['size_b_prime'], ' '.join('%s %.1f' % (k, t[k]) for k in ('patchmatch','reconstruction','rest','total')))" "$out/t.json" "$s $*"
  rm -f "$out"/a*.png "$out"/*.flo "$out"/t.json
done
rm -rf "$out"
