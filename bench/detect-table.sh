#!/usr/bin/env bash
# gyre detect on the bundled NAB series with each scorer and its baselines (README table).
# Usage: bench/detect-table.sh [extra detect options…]   (builds the CLI, prints a markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Gyre.Cli -c Release -v q >/dev/null
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
D=src/Gyre.Cli/Data
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
row() {
  local file=$1 method=$2; shift 2
  local labels=() start=$SECONDS json
  [[ -f $D/${file%.csv}.labels.json ]] && labels=(--labels "$D/${file%.csv}.labels.json")
  json=$($G detect run --data "$D/$file" --target value --method "$method" --out "$out/s.csv" "${labels[@]}" --json "$@" 2>/dev/null)
  local seconds=$((SECONDS - start))
  python3 -c "
import json, sys
d = json.loads(sys.argv[1])
def cells(x):
    m = x.get('metrics')
    if m is None: return f\"{len(x['events'])} | — | {len(x['events'])} | — |\"
    return f\"{len(x['events'])} | {m['windows_hit']}/{m['windows']} | {m['false_events']} | {m['nab_standard']:.1f} |\"
print(f\"| $file | **{d['method']}** | {d['threshold']:.3g} | {cells(d)} $seconds s |\")
for name, b in d['baselines'].items():
    print(f\"| | {name} (baseline) | {b['threshold']:.3g} | {cells(b)} |\")" "$json"
}
echo "| series | detector | threshold | events | windows hit | false events | NAB standard | time |"
echo "|---|---|---|---|---|---|---|---|"
for file in art_daily_jumpsup.csv art_daily_small_noise.csv; do
  for method in reconstruction forecast; do row "$file" "$method" "$@"; done
done
