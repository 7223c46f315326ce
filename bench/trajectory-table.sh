#!/usr/bin/env bash
# Leave-one-scene-out trajectory forecasting on the bundled UCY scenes: train on one, test on the other
# (README table). ADE/FDE in metres of the model's mean and best-of-K beside constant velocity and a linear fit.
# The model's share of its correction is adapted online on the test scene's completed windows (the default,
# --adapt online); the same model with its trained share fixed is printed beside it.
# Usage: bench/trajectory-table.sh [extra train options…]   (ADAPT=none for the trained share alone)
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Gyre.Cli -c Release -v q >/dev/null
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
D=src/Gyre.Cli/Data
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
row() {
  local train=$1 test=$2; shift 2
  local start=$SECONDS json
  $G trajectory train --data "$D/$train.txt" --out "$out/$train.gyre" "$@" >/dev/null
  json=$($G trajectory eval --model "$out/$train.gyre" --data "$D/$test.txt" --samples 20 --adapt "${ADAPT:-online}" --json)
  local seconds=$((SECONDS - start))
  python3 -c "
import json, sys
d = json.loads(sys.argv[1])
m, cv, lin = d['metrics'], d['baselines']['constant_velocity'], d['baselines']['linear']
fx, c = d['fixed_correction'], d['correction']
beats = 'yes' if m['ade'] < cv['ade'] and m['fde'] < cv['fde'] else 'no'
print(f\"| $train | $test | {d['windows']} | **{m['ade']:.3f} / {m['fde']:.3f}** | {c['mean']:.2f} | {fx['ade']:.3f} / {fx['fde']:.3f} ({c['trained']:.2f}) | {m['best_of_k_ade']:.3f} / {m['best_of_k_fde']:.3f} | {cv['ade']:.3f} / {cv['fde']:.3f} | {lin['ade']:.3f} / {lin['fde']:.3f} | {beats} | $seconds s |\")" "$json"
}
echo "| train | test | windows | Gyre ADE / FDE (mean, --adapt ${ADAPT:-online}) | mean α | α fixed (trained α) | best of 20 | constant velocity | linear fit | mean beats CV | time |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
row students001 crowds_zara01 "$@"
row crowds_zara01 students001 "$@"
