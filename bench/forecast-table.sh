#!/usr/bin/env bash
# Test MASE of Gyre against seasonal naive on each bundled forecasting dataset (README table).
# Usage: bench/forecast-table.sh   (builds the CLI, trains four models, prints a markdown table)
#        SELECT=soup bench/forecast-table.sh   (the same rows with --select soup: a greedy soup of the best epochs)
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Gyre.Cli -c Release -v q >/dev/null
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
D=src/Gyre.Cli/Data
out=$(mktemp -d)
row() {
  local name=$1; shift
  local start=$SECONDS json
  json=$($G forecast train --json --out "$out/$name.gyre" "$@" ${SELECT:+--select "$SELECT"} 2>/dev/null)
  local seconds=$((SECONDS - start))
  python3 -c "
import json, sys
d = json.loads(sys.argv[1])
g, s, n = d['metrics']['mase'], d['baselines']['seasonal_naive']['mase'], d['baselines']['naive']['mase']
print(f\"| $name | {d['season']} | {d['lookback']} | {d['horizon']} | {d['test_windows']} | **{g:.3f}** | {s:.3f} | {n:.3f} | {'yes' if g < s else 'no'} | $seconds s |\")" "$json"
}
echo "| dataset | season | lookback | horizon | test windows | Gyre MASE | seasonal naive | naive | beats s-naive | time |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row co2 --data $D/co2-concentration.csv --allow-gaps --target CO2 --lookback 36 --horizon 12 --instance-norm --epochs 60 --patience 15 --seed 1
row AirPassengers --data $D/AirPassengers.csv --target '#Passengers' --lookback 24 --horizon 12 --instance-norm --epochs 100 --seed 1
row monthly-sunspots --data $D/monthly-sunspots.csv --target Sunspots --lookback 120 --horizon 12 --epochs 30 --seed 1
row seattle-temp_max --data $D/seattle-weather.csv --target temp_max --lookback 60 --horizon 7 --epochs 30 --seed 1
rm -rf "$out"
