#!/usr/bin/env bash
# ETTh2 long-horizon benchmark (README table): the standard protocol — all 7 channels, lookback 96, rows
# 8640/2880/2880 for train/validation/test, z-score fitted on the training rows, MSE and MAE on the z-scored test
# windows — for `--preset segrnn` and for the defaults, beside seasonal naive (24) and naive on the same windows.
# Usage: bench/etth2-table.sh [HORIZON ...]     (default: 96 192 336 720; one training run at a time)
#        SEGRNN_EPOCHS=4 bench/etth2-table.sh    (the preset with fewer epochs: the README's rows, for a shared 2-core machine)
# Prints a markdown table: test MSE, MAE, training seconds, peak RSS. Data: bench/data/ETTh2.csv (see SOURCES.md).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Gyre.Cli -c Release -v q >/dev/null
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
D=bench/data/ETTh2.csv
horizons=("$@"); [ ${#horizons[@]} -gt 0 ] || horizons=(96 192 336 720)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
row() {
  local name=$1 horizon=$2; shift 2
  local model="$out/$name-$horizon.gyre"
  local start=$SECONDS
  /usr/bin/time -f "%M" -o "$out/rss" $G forecast train --data $D --target all --time-col date --lookback 96 --horizon "$horizon" \
    --split 8640,2880,2880 --scaler standard --out "$model" "$@" >"$out/train.log" 2>&1 || { cat "$out/train.log" >&2; exit 1; }
  local seconds=$((SECONDS - start)) rss
  rss=$(( $(tail -1 "$out/rss") / 1024 ))
  $G forecast eval --model "$model" --data $D --eval-scale scaled --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
m, s, n = d['metrics'], d['baselines']['seasonal_naive'], d['baselines']['naive']
print(f\"| $horizon | $name | {m['mse']:.3f} | {m['mae']:.3f} | {s['mse']:.3f} / {s['mae']:.3f} | {n['mse']:.3f} / {n['mae']:.3f} | {'yes' if m['mse'] < s['mse'] else 'no'} | $seconds s | $rss MiB |\")"
}
echo "| horizon | configuration | test MSE | test MAE | seasonal naive (24) MSE / MAE | naive MSE / MAE | beats s-naive | training | peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
for h in "${horizons[@]}"; do
  if [ -n "${SEGRNN_EPOCHS:-}" ]; then row "preset segrnn, $SEGRNN_EPOCHS epochs" "$h" --preset segrnn --epochs "$SEGRNN_EPOCHS"
  else row "preset segrnn" "$h" --preset segrnn; fi
  row "defaults" "$h"
done
