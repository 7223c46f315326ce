#!/bin/bash
# The registered cells' loop against their parallel path in the one sequence runner (mingru / minlstm: linear scan;
# paragru, paralstm: Newton; gla, lssl: state scan), over `gyre bench scan`'s grid (T = 1k, 4k, 16k at B = 1 and 8,
# hidden 256, untrained and after 40 AdamW steps), ROUNDS rounds with the cells interleaved round by round (machine
# noise hits every cell alike), plus the encoders of paragru and paralstm forecasters trained on the bundled CO2 data
# at hidden 256. Then the README table.
# usage: bench/scan_cells.sh [ROUNDS] [OUT.jsonl]     (from the repository root, after a Release build)
set -euo pipefail
ROUNDS=${1:-3}
OUT=${2:-bench/results/scan-cells-$(date -u +%Y%m%d).jsonl}
DLL=src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll
[ -f "$DLL" ] || dotnet build src/Gyre.Cli -c Release
: > "$OUT"
# Forecasters trained on the bundled job (hidden 256, up to 40 epochs with early stopping): their encoders' Newton
# iterations on weights that fit real data.
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
for cell in paragru paralstm; do
  dotnet "$DLL" forecast --cell "$cell" --hidden 256 --epochs 40 --out-dir "$TMP/$cell" > "$TMP/$cell.log"
done
for round in $(seq "$ROUNDS"); do
  for cell in mingru minlstm paragru paralstm "gla(heads=16)" lssl; do
    echo "# round $round $cell $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT" >&2
    dotnet "$DLL" bench scan --cell "$cell" --json --reps 3 --threads 2 >> "$OUT"
  done
  for cell in paragru paralstm; do
    dotnet "$DLL" bench scan --model "$TMP/$cell/co2.gyre" --json --reps 3 --threads 2 >> "$OUT"
  done
done
python3 bench/scan_table.py "$OUT"
