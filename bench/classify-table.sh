#!/usr/bin/env bash
# Test accuracy of the DEFAULT `gyre classify train` against the majority-class, 1-NN Euclidean and 1-NN DTW
# baselines on each bundled classification dataset (README table). Every row is the same command with no
# tuning options, so the table shows what the defaults do on data they were not tuned to.
# Usage: bench/classify-table.sh [--threads N]   (builds the CLI, trains three models, prints a markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Gyre.Cli -c Release -v q >/dev/null
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
D=src/Gyre.Cli/Data/classification
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
row() {
  local name=$1; shift
  local json
  json=$($G classify train --data "$D/${name}_TRAIN.ts" --test "$D/${name}_TEST.ts" --out "$out/$name.gyre" --json "$@" 2>/dev/null)
  python3 -c "
import json, sys
d = json.loads(sys.argv[1])
m, b = d['metrics'], d['baselines']
best = max(b['majority'], b['nn_euclidean'], b['nn_dtw'])
print(f\"| $name | {d['cases']} | **{m['accuracy']:.3f}** | {m['macro_f1']:.3f} | {b['majority']:.3f} | {b['nn_euclidean']:.3f} | {b['nn_dtw']:.3f} | \"
      f\"{'yes' if m['accuracy'] > best else 'no'} | {d['train_seconds']:.0f} s | {d['seconds']:.0f} s |\")" "$json"
}
echo "| dataset | test cases | Gyre accuracy | Gyre macro F1 | majority | 1-NN Euclidean | 1-NN DTW (10 % band) | beats best baseline | training | training + evaluation |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for name in GunPoint ArrowHead PLAID; do row "$name" "$@"; done
