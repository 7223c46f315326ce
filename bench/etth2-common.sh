# Shared by bench/etth2-table.sh and bench/etth2-seeds.sh (sourced, with the caller's arguments as horizons): builds the
# CLI and Gyre.Bench, and defines the ETTh2 long-horizon protocol and how a run's log and model are read.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dotnet build src/Gyre.Cli -c Release -v q >/dev/null
dotnet build bench/Gyre.Bench -c Release -v q >/dev/null
G="dotnet src/Gyre.Cli/bin/Release/net10.0/Gyre.Cli.dll"
B="dotnet bench/Gyre.Bench/bin/Release/net10.0/Gyre.Bench.dll"
D=bench/data/ETTh2.csv
# All 7 channels, lookback 96, rows 8640/2880/2880 for train/validation/test, z-score fitted on the training rows.
PROTOCOL=(--data "$D" --target all --time-col date --lookback 96 --split 8640,2880,2880 --scaler standard)
horizons=("$@"); [ ${#horizons[@]} -gt 0 ] || horizons=(96 192 336 720)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The epoch a training log restored: epoch lines read "epoch E/N … *" when E improved on the validation loss.
best_epoch() { grep '^epoch [0-9]*/.*\*$' "$1" | tail -1 | sed 's#^epoch \([0-9]*\)/.*#\1#'; }

# "MSE MAE DROP-LAST-MSE" of a model on the test windows (scaled). droplast prints
# "all W windows per series: MSE m MAE a; first K (drop-last, batch 256): MSE m MAE a".
test_scores() {
  $B droplast "$1" "$D" | tail -1 | sed -n 's/.*: MSE \([0-9.]*\) MAE \([0-9.]*\); first.*: MSE \([0-9.]*\) MAE.*/\1 \2 \3/p'
}
