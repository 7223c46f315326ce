#!/usr/bin/env python3
"""Prints the gyre-vs-peers table from JSON lines (one per peer, row, mode and thread count).

Usage: compare_table.py RESULTS.jsonl [MACHINE_LINE...]
Ratios are peer ms / gyre ms: above 1 means Gyre is faster. A row a peer did not run shows '-'.
"base" is another build of Gyre (bench/compare --base): base/gyre above 1 means this build is faster.
Where a (peer, row, mode, threads) was measured more than once (bench/compare --rounds), the median of the
measurements is used and "±" gives their spread: half the range of the per-round medians over their median.
"""
import json
import statistics
import sys

PEERS = [("gyre", "gyre"), ("onnxruntime", "ort"), ("libtorch", "torch"), ("gyre-base", "base")]


def spread(values):
    """Half the range over the median, in per cent ('' for a single measurement)."""
    if len(values) < 2:
        return ""
    return f" ±{(max(values) - min(values)) / 2 / statistics.median(values) * 100:.0f}%"


def main(path, machine):
    ms = {}
    order = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
                key = (r["cell"], r["batch"], r["seq"], r["input"], r["hidden"], r["mode"], r["threads"])
                ms.setdefault((r["peer"], key), []).append(float(r["ms"]))
            except (ValueError, KeyError) as e:
                print(f"{path}:{n}: skipped, not a result line ({e})", file=sys.stderr)
                continue
            if key not in order:
                order.append(key)

    for m in machine:
        print(m)
    head = ["cell", "B", "T", "I", "H", "mode", "thr"] + [f"{s} ms" for _, s in PEERS] + [f"{s}/gyre" for _, s in PEERS[1:]]
    rows = []
    # Grid order as first seen, grouped by threads then mode, so one thread count reads as one block.
    for key in sorted(order, key=lambda k: (k[6], k[5] != "infer", order.index(k))):
        cell, b, t, i, h, mode, thr = key
        vals = {p: statistics.median(ms[(p, key)]) if (p, key) in ms else None for p, _ in PEERS}
        g = vals["gyre"]
        row = [cell, b, t, i, h, mode, thr]
        row += [f"{vals[p]:.3f}{spread(ms[(p, key)])}" if vals[p] is not None else "-" for p, _ in PEERS]
        row += [f"{vals[p] / g:.2f}" if vals[p] is not None and g else "-" for p, _ in PEERS[1:]]
        rows.append([str(c) for c in row])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    print("  ".join(str(h).rjust(w) for h, w in zip(head, widths)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    rounds = max((len(v) for v in ms.values()), default=0)
    print(f"medians over up to {rounds} measurement(s) per cell; ± = half the range of the per-round medians")
    if not any(p == "gyre" for p, _ in ms):
        print("(no gyre results: ratios need `gyre bench --json`)")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
