#!/usr/bin/env bash
# The README's table of registered cells: each cell's equation, states, recurrent weight and ONNX form (from
# `gyre bench cells`, i.e. from the cells' own definitions) beside its measured speed and GRU's, at B = 64, T = 100,
# I = 32, H = 128 and at batch 1 (T = 1000), inference and training. The cells are interleaved inside each round
# and the rounds repeated (default 3), because the machine is shared: the table shows the median over rounds of
# each run's median.
# Usage: bench/cells-table.sh [--rounds N] [--threads N] [--out FILE.jsonl] [extra cells as name(k=v,...)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; threads=1; out=""; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
dotnet build src/Gyre.Cli -c Release -v q >/dev/null
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$G bench cells --json "${extra[@]}" > "$tmp/cells.jsonl"
mapfile -t cells < <(python3 -c "import json,sys; [print(json.loads(l)['cell']) for l in open(sys.argv[1])]" "$tmp/cells.jsonl")
for round in $(seq "$rounds"); do
  for cell in "${cells[@]}"; do
    for shape in "64 100 32 128" "1 1000 32 128"; do
      read -r b t i h <<< "$shape"
      $G bench --cell "$cell" --batch "$b" --seq "$t" --input "$i" --hidden "$h" --threads "$threads" --reps 5 --json \
        | sed "s/^{/{\"round\":$round,/" >> "$tmp/runs.jsonl"
    done
  done
done
[ -n "$out" ] && cp "$tmp/runs.jsonl" "$out"
python3 bench/cells_table.py "$tmp/cells.jsonl" "$tmp/runs.jsonl" "$rounds" "$threads"
