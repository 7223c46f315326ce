#!/usr/bin/env bash
# gyre serve, measured: (1) the model's cost per request in-process — a stream's step given one new observation
# against ONNX Runtime re-running the exported model on the whole window — and (2) load on a local server at 1, 16
# and 256 concurrent streams, SECONDS_PER_LEVEL each (default 10). Loopback only; everything lives in a temp folder.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_PER_LEVEL:-10}
work=$(mktemp -d)
server=""
trap '[[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
dotnet build src/Gyre.Cli -c Release -v q -nologo >/dev/null
dotnet build bench/Gyre.ServeBench -c Release -v q -nologo >/dev/null
gyre=(dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll)
bench=(dotnet bench/Gyre.ServeBench/bin/Release/net10.0/Gyre.ServeBench.dll)
data=src/Gyre.Cli/Data

# A classifier whose streams step (global normalisation, last-state pooling, patches of 1) on GunPoint's 150-step
# cases, and a GRU forecaster with lookback 96 (its streams keep the window), both hidden 64, each exported to ONNX.
"${gyre[@]}" classify train --data $data/classification/GunPoint_TRAIN.ts --normalize global --pool last --patch 1 \
  --augment 0 --test-augment 0 --hidden 64 --epochs 2 --out "$work/gun.gyre" >/dev/null
"${gyre[@]}" export --model "$work/gun.gyre" --onnx "$work/gun.onnx" >/dev/null
# The same classifier with the default per-case normalisation: its streams keep the whole case and re-run it, every
# stream of a batch in one prediction (the server's memory under load is mostly this path's buffers).
"${gyre[@]}" classify train --data $data/classification/GunPoint_TRAIN.ts --augment 0 --test-augment 0 --hidden 64 --epochs 2 \
  --out "$work/gunw.gyre" >/dev/null
"${gyre[@]}" forecast train --data $data/monthly-sunspots.csv --lookback 96 --horizon 12 --hidden 64 --epochs 1 --out "$work/sun.gyre" >/dev/null
"${gyre[@]}" export --model "$work/sun.gyre" --onnx "$work/sun.onnx" >/dev/null
# A stateful GRU forecaster (its streams take one recurrent step per row, any cell and depth), and the same GRU as a
# window model read step by step (no patches, lookback 96 and 192) exported to ONNX: a stateful graph does not export
# (the exported graph reads one window from zero states), so ONNX Runtime re-runs the window model's whole window.
"${gyre[@]}" forecast train --data $data/monthly-sunspots.csv --stateful --lookback 96 --horizon 12 --hidden 64 --epochs 1 --out "$work/sunst.gyre" >/dev/null
for l in 96 192; do
  "${gyre[@]}" forecast train --data $data/monthly-sunspots.csv --patch 0 --lookback $l --horizon 12 --hidden 64 --epochs 1 --out "$work/sunw$l.gyre" >/dev/null
  "${gyre[@]}" export --model "$work/sunw$l.gyre" --onnx "$work/sunw$l.onnx" >/dev/null
done
# A forecaster whose streams slide: a one-layer minGRU encoder without window normalisation, lookback 96 and 192.
for l in 96 192; do
  "${gyre[@]}" forecast train --data $data/monthly-sunspots.csv --cell mingru --norm none --lookback $l --horizon 12 --hidden 64 \
    --epochs 1 --out "$work/sunmin$l.gyre" >/dev/null
  "${gyre[@]}" export --model "$work/sunmin$l.gyre" --onnx "$work/sunmin$l.onnx" >/dev/null
done

# The cost mode runs without tiered compilation: its few hundred timed requests would otherwise partly run the JIT's
# first-tier code (a loaded machine delays the optimised recompilation), which a long-running server does not.
cost=(env DOTNET_TieredCompilation=0 "${bench[@]}" cost)
echo "## Cost per request (in-process, median of 400, optimised JIT code)"
echo "| model | job | stream | window | Gyre µs/request | ONNX Runtime µs/request (whole window) | ORT / Gyre |"
echo "|---|---|---|---|---|---|---|"
"${cost[@]}" --model "$work/gun.gyre" --onnx "$work/gun.onnx" --window 96
"${cost[@]}" --model "$work/gun.gyre" --onnx "$work/gun.onnx" --window 150
"${cost[@]}" --model "$work/sun.gyre" --onnx "$work/sun.onnx" --window 96
"${cost[@]}" --model "$work/sunmin96.gyre" --onnx "$work/sunmin96.onnx" --window 96
"${cost[@]}" --model "$work/sunmin192.gyre" --onnx "$work/sunmin192.onnx" --window 192
# The stateful forecaster's step against ONNX Runtime on the unpatched GRU window model (96, 192 steps) and on the
# default window model (patches of 12: 8 recurrent steps over 96 rows).
"${cost[@]}" --model "$work/sunst.gyre" --onnx "$work/sunw96.onnx" --window 96
"${cost[@]}" --model "$work/sunst.gyre" --onnx "$work/sunw192.onnx" --window 192
"${cost[@]}" --model "$work/sunst.gyre" --onnx "$work/sun.onnx" --window 96

"${gyre[@]}" serve --model gun="$work/gun.gyre" --model gunw="$work/gunw.gyre" --model sun="$work/sun.gyre" --model sunmin="$work/sunmin96.gyre" --model sunst="$work/sunst.gyre" --port 0 --max-streams 100000 >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1 600); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http:\/\/127\.0\.0\.1:[0-9]*\/\).*/\1/p' "$work/serve.out" | head -1)
[[ -n "$url" ]] || { cat "$work/serve.err" >&2; exit 1; }
# One load level per served model: name, then what a request costs it.
for level in \
  "gun|classifier (stepped streams)" \
  "gunw|classifier (window streams: the whole case re-run per request, cases growing)" \
  "sun|forecaster (window of 96 re-run per request)" \
  "sunmin|minGRU forecaster (window of 96 slid one step per request)" \
  "sunst|stateful GRU forecaster (one recurrent step per request)"; do
  echo
  echo "## Load: ${level#*|}, ${seconds} s per level"
  "${bench[@]}" load --url "$url" --model "${level%%|*}" --streams 1,16,256 --seconds "$seconds" --pid "$server"
done
kill -TERM "$server"; wait "$server" || true; server=""
echo
lscpu | grep 'Model name' || true
