#!/usr/bin/env bash
# Test accuracy of the DEFAULT `gyre classify train` against the majority-class, 1-NN Euclidean and 1-NN DTW
# baselines on each bundled classification dataset (README table), for several seeds: a default that beats the
# baselines with one seed only is not reliable. Every row is the same command with no tuning options, so the
# table shows what the defaults do on data they were not tuned to.
# Usage: SEEDS="1 2 3" bench/classify-table.sh [extra train options…]   (builds the CLI, prints a markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Gyre.Cli -c Release -v q >/dev/null
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
D=src/Gyre.Cli/Data/classification
read -r -a seeds <<< "${SEEDS:-1 2 3}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
row() {
  local name=$1; shift
  local files=() s baselines=()
  for s in "${seeds[@]}"; do
    # The baselines do not depend on the seed: computed with the first one only.
    $G classify train --data "$D/${name}_TRAIN.ts" --test "$D/${name}_TEST.ts" --out "$out/$name.gyre" --json --seed "$s" "${baselines[@]}" "$@" \
      2>/dev/null > "$out/$name-$s.json"
    files+=("$out/$name-$s.json")
    baselines=(--no-baselines)
  done
  python3 -c "
import json, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
b = runs[0]['baselines']
best = max(b['majority'], b['nn_euclidean'], b['nn_dtw'])
acc = [r['metrics']['accuracy'] for r in runs]
beats = sum(a > best for a in acc)
print(f\"| $name | {runs[0]['cases']} | **{' / '.join(f'{a:.3f}' for a in acc)}** | {sum(acc) / len(acc):.3f} | {b['majority']:.3f} | {b['nn_euclidean']:.3f} | {b['nn_dtw']:.3f} | \"
      f\"{beats} of {len(acc)} | {runs[0]['train_seconds']:.0f} s | {runs[0]['seconds']:.0f} s |\")" "${files[@]}"
}
echo "| dataset | test cases | Gyre accuracy (seeds ${seeds[*]}) | mean | majority | 1-NN Euclidean | 1-NN DTW (10 % band) | seeds beating the best baseline | training (first seed) | training + evaluation (first seed) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for name in GunPoint ArrowHead PLAID; do row "$name" "$@"; done
