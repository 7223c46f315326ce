"""Markdown table of the registered cells (bench/cells-table.sh): description lines from `gyre bench cells --json`,
timing lines from `gyre bench --json` (several rounds); each time is the median over rounds, beside GRU's."""
import json
import statistics
import sys

cells = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
runs = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
rounds, threads = sys.argv[3], sys.argv[4]

ms = {}
for r in runs:
    ms.setdefault((r["cell"], r["batch"], r["mode"]), []).append(r["ms"])
med = {k: statistics.median(v) for k, v in ms.items()}
cols = [(64, "infer"), (64, "train"), (1, "infer"), (1, "train")]


def cell_ms(cell, b, mode):
    v = med.get((cell, b, mode))
    g = med.get(("gru", b, mode))
    if v is None:
        return "—"
    return f"{v:.2f}" if cell == "gru" or g is None else f"{v:.2f} ({v / g:.2f}×)"


print("| cell | equation | states | recurrent weight | ONNX | B=64 infer ms | B=64 train ms | B=1 infer ms | B=1 train ms |")
print("|---|---|---|---|---|---|---|---|---|")
for c in cells:
    name = c["cell"]
    eq = c["equation"].replace("|", "\\|")
    print(f"| `{name}` | {eq} | {c['states']} | {c['recurrent']} | {c['onnx']} | "
          + " | ".join(cell_ms(name, b, m) for b, m in cols) + " |")
print()
print(f"B=64: T=100, I=32, H=128; B=1: T=1000, I=32, H=128; {threads} thread(s). Each time is the median over "
      f"{rounds} rounds (cells interleaved in each round) of the median of 5 timed runs; (×) is the time relative "
      "to GRU's in the same column (below 1: faster than GRU).")
