#!/usr/bin/env bash
# ETTh2 long-horizon benchmark (README table): the standard protocol — all 7 channels, lookback 96, rows
# 8640/2880/2880 for train/validation/test, z-score fitted on the training rows, MSE and MAE on the z-scored test
# windows — for `--preset segrnn` and for the defaults, beside seasonal naive (24) and naive on the same windows.
# Usage: bench/etth2-table.sh [HORIZON ...]     (default: 96 192 336 720; one training run at a time)
#        SEGRNN_EPOCHS=4 bench/etth2-table.sh    (the preset with fewer epochs, for a quick look on a shared 2-core machine)
#        ROWS=preset|defaults bench/etth2-table.sh  (only those rows; default both)
#        SELECT=best|soup bench/etth2-table.sh  (--select for every row: the best epoch's weights or a greedy soup of the best epochs')
# Prints a markdown table: test MSE, MAE, the drop-last MSE (the first ⌊W/256⌋·256 test windows of each series, as the
# published code's test loader scores: `Gyre.Bench droplast`), training wall seconds and process CPU seconds (user + sys: on a shared machine
# the wall time is inflated, CPU time / cores bounds the idle wall from below), epochs run and the best (restored) epoch,
# peak RSS. Data: bench/data/ETTh2.csv (see SOURCES.md).
set -euo pipefail
source "$(dirname "$0")/etth2-common.sh"
row() {
  local name=$1 horizon=$2; shift 2
  local model="$out/$name-$horizon.gyre"
  local start=$SECONDS
  /usr/bin/time -f "%M %U %S" -o "$out/rss" $G forecast train "${PROTOCOL[@]}" --horizon "$horizon" --out "$model" "$@" ${SELECT:+--select "$SELECT"} >"$out/train.log" 2>&1 || { cat "$out/train.log" >&2; exit 1; }
  local seconds=$((SECONDS - start)) rss cpu epochs best soup
  read -r rss user sys < <(tail -1 "$out/rss")
  rss=$((rss / 1024))
  cpu=$(python3 -c "print(round($user + $sys))")
  epochs=$(grep -c '^epoch [0-9]*/' "$out/train.log" || true)
  best=$(best_epoch "$out/train.log")
  # With --select soup the restored weights average the epochs the log names ("greedy soup of epochs 3, 5 restored").
  soup=$(grep -o 'greedy soup of epochs [0-9, ]*' "$out/train.log" | sed 's/greedy soup of epochs //; s/, /+/g' || true)
  [ -z "$soup" ] || best="$best, soup $soup"
  local dl
  dl=$(test_scores "$model" | cut -d' ' -f3)
  $G forecast eval --model "$model" --data $D --eval-scale scaled --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
m, s, n = d['metrics'], d['baselines']['seasonal_naive'], d['baselines']['naive']
print(f\"| $horizon | $name | {m['mse']:.3f} | {m['mae']:.3f} | {$dl:.3f} | {s['mse']:.3f} / {s['mae']:.3f} | {n['mse']:.3f} / {n['mae']:.3f} | {'yes' if m['mse'] < s['mse'] else 'no'} | $seconds s | $cpu s | $epochs / ${best:-–} | $rss MiB |\")"
}
echo "| horizon | configuration | test MSE | test MAE | drop-last MSE | seasonal naive (24) MSE / MAE | naive MSE / MAE | beats s-naive | training wall | CPU (user+sys) | epochs / best | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
rows=${ROWS:-both}
for h in "${horizons[@]}"; do
  if [ "$rows" != defaults ]; then
    if [ -n "${SEGRNN_EPOCHS:-}" ]; then row "preset segrnn, $SEGRNN_EPOCHS epochs" "$h" --preset segrnn --epochs "$SEGRNN_EPOCHS"
    else row "preset segrnn" "$h" --preset segrnn; fi
  fi
  if [ "$rows" != preset ]; then row "defaults" "$h"; fi
done
