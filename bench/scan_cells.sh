#!/bin/bash
# The registered cells' loop against their parallel path in the one sequence runner (mingru / minlstm: linear scan,
# paragru, paralstm: Newton), over `gyre bench scan`'s grid (T = 1k, 4k, 16k at B = 1 and 8, hidden 256, untrained and after
# 40 AdamW steps), ROUNDS rounds with the cells interleaved round by round (machine noise hits every cell alike), plus
# the encoder of a paragru forecaster trained on the bundled CO2 data at hidden 256. Then the README table.
# usage: bench/scan_cells.sh [ROUNDS] [OUT.jsonl]     (from the repository root, after a Release build)
set -euo pipefail
ROUNDS=${1:-3}
OUT=${2:-bench/results/scan-cells-$(date -u +%Y%m%d).jsonl}
DLL=src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll
[ -f "$DLL" ] || dotnet build src/Gyre.Cli -c Release
: > "$OUT"
for round in $(seq "$ROUNDS"); do
  for cell in mingru minlstm paragru paralstm; do
    echo "# round $round $cell $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    dotnet "$DLL" bench scan --cell "$cell" --json --reps 3 --threads 2 >> "$OUT"
  done
done
# A briefly trained paragru forecaster (the bundled job, hidden 256): its encoder's Newton iterations on trained weights.
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
dotnet "$DLL" forecast --cell paragru --hidden 256 --epochs 5 --out-dir "$TMP" > "$TMP/train.log"
for round in $(seq "$ROUNDS"); do
  dotnet "$DLL" bench scan --model "$TMP/co2.gyre" --json --reps 3 --threads 2 >> "$OUT"
done
python3 bench/scan_table.py "$OUT"
