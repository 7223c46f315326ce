#!/usr/bin/env bash
# Every registered cell (from `gyre bench cells`, i.e. the registry itself) through the bundled forecasting job and
# through `gyre bench`: `gyre forecast --cell X --epochs 2` on the bundled CO2 data (test MAE beside the naive
# baselines) and `gyre bench --cell X` at a small shape (one row per mode), plus the gated memory unit's bench rows.
# Prints one line per cell and exits non-zero if any cell failed either.
# Usage: bench/every-cell.sh [extra cells as name(k=v,...)]
set -uo pipefail
cd "$(dirname "$0")/.."
dotnet build src/Gyre.Cli -c Release -v q >/dev/null || exit 1
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$G bench cells --json "$@" > "$tmp/cells.jsonl" || exit 1
mapfile -t cells < <(python3 -c "import json,sys; [print(json.loads(l)['cell']) for l in open(sys.argv[1])]" "$tmp/cells.jsonl")
failed=0
for cell in "${cells[@]}"; do
  if ! $G forecast --cell "$cell" --epochs 2 --json --out-dir "$tmp/out" > "$tmp/f.json" 2> "$tmp/f.err"; then
    echo "FAIL forecast --cell $cell: $(tail -1 "$tmp/f.err")"; failed=$((failed + 1)); continue
  fi
  if ! $G bench --cell "$cell" --batch 4 --seq 20 --input 8 --hidden 16 --threads 1 --reps 1 --json > "$tmp/b.jsonl" 2> "$tmp/b.err"; then
    echo "FAIL bench --cell $cell: $(tail -1 "$tmp/b.err")"; failed=$((failed + 1)); continue
  fi
  python3 - "$cell" "$tmp/f.json" "$tmp/b.jsonl" <<'PY'
import json, sys
cell, f, b = sys.argv[1], json.load(open(sys.argv[2])), [json.loads(l) for l in open(sys.argv[3])]
m, base = f["metrics"], f["baselines"]
rows = ", ".join(f'{r["mode"]} {r["ms"]:.2f} ms' for r in b if r["cell"] == cell)
print(f'ok   {cell:<22} forecast MAE {m["mae"]:.3f} (naive {base["naive"]["mae"]:.3f}, seasonal naive {base["seasonal_naive"]["mae"]:.3f}); bench {len(b)} rows: {rows}')
PY
done
if $G bench --cell gmu --batch 4 --seq 20 --input 16 --hidden 16 --threads 1 --reps 1 --json > "$tmp/g.jsonl"; then
  echo "ok   gmu (layer)              bench $(wc -l < "$tmp/g.jsonl") rows"
else
  echo "FAIL bench --cell gmu"; failed=$((failed + 1))
fi
echo "${#cells[@]} registered cells; $failed failed"
[ "$failed" -eq 0 ]
