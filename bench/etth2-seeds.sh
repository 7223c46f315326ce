#!/usr/bin/env bash
# The SegRNN preset on ETTh2 (the protocol of bench/etth2-table.sh) over several seeds: how much of a single run's test MSE
# is the seed. For each horizon and seed: test MSE / MAE on every test window (the protocol), MSE on the first ⌊W/256⌋·256
# windows (the published code's test loader drops its last incomplete batch: `Gyre.Bench droplast`), the epoch the
# validation chose, and the training wall time; then the mean and the spread (min–max) over the seeds.
# Usage: bench/etth2-seeds.sh [HORIZON ...]          (default 96 192 336 720)
#        SEEDS="1 2 3" bench/etth2-seeds.sh 192       (default seeds 1 2 3; one training run at a time)
set -euo pipefail
source "$(dirname "$0")/etth2-common.sh"
read -r -a seeds <<< "${SEEDS:-1 2 3}"
echo "| horizon | seed | test MSE | test MAE | drop-last MSE | best epoch | training wall |"
echo "|---|---|---|---|---|---|---|"
for h in "${horizons[@]}"; do
  : > "$out/rows"
  for seed in "${seeds[@]}"; do
    model="$out/segrnn-$h-$seed.gyre"
    start=$SECONDS
    $G forecast train "${PROTOCOL[@]}" --horizon "$h" --preset segrnn --seed "$seed" --out "$model" >"$out/train.log" 2>&1 || { cat "$out/train.log" >&2; exit 1; }
    wall=$((SECONDS - start))
    best=$(best_epoch "$out/train.log")
    read -r mse mae dl < <(test_scores "$model")
    echo "$mse $mae $dl" >> "$out/rows"
    printf '| %s | %s | %.3f | %.3f | %.3f | %s | %s s |\n' "$h" "$seed" "$mse" "$mae" "$dl" "${best:-–}" "$wall"
  done
  python3 - "$h" "$out/rows" <<'PY'
import sys
h, rows = sys.argv[1], [list(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
col = lambda i: [r[i] for r in rows]
fmt = lambda v: f"**{sum(v) / len(v):.3f}** ({min(v):.3f}–{max(v):.3f})"
print(f"| {h} | mean (min–max) | {fmt(col(0))} | {fmt(col(1))} | {fmt(col(2))} | | |")
PY
done
