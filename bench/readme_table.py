#!/usr/bin/env python3
"""Markdown ratio table for the README from one bench/compare session (a .jsonl file)."""
import json, math, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
# Several rounds of one row (bench/compare --rounds): the line with the median ms stands for the row.
groups = defaultdict(lambda: defaultdict(list))
for r in rows:
    groups[(r["cell"], r["batch"], r["seq"], r["input"], r["hidden"], r["mode"], r["threads"])][r["peer"]].append(r)
ms = defaultdict(dict)
for k, peers in groups.items():
    for peer, rs in peers.items():
        rs.sort(key=lambda r: r["ms"])
        values = [r["ms"] for r in rs]
        spread = (max(values) - min(values)) / 2 / statistics.median(values) * 100 if len(values) > 1 else None
        ms[k][peer] = dict(rs[(len(rs) - 1) // 2], ms=statistics.median(values), spread=spread)


def cell(r):
    """ms, with ± half the range of the per-round medians when there were several rounds."""
    return f'{r["ms"]:.2f}' + (f' ±{r["spread"]:.0f}%' if r.get("spread") is not None else "")


# With a second Gyre build (bench/compare --base) its time and base / Gyre are shown too.
has_base = any("gyre-base" in p for p in ms.values())
extra_head = " Gyre before ms | before / Gyre |" if has_base else ""
print("| cell | B | T | I | H | mode | threads | Gyre ms | ONNX Runtime ms | libtorch ms | best peer / Gyre | Gyre GFLOP/s | Gyre / libtorch peak RSS MB |" + extra_head + " Gyre train / infer |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if has_base else "") + "---|")
# Gyre's training time over its inference time at the same row (the target: ≤ 3.5 on every batched row).
train_infer = {}
train_ratios = defaultdict(list)
order = []
for r in rows:
    k = (r["cell"], r["batch"], r["seq"], r["input"], r["hidden"], r["mode"], r["threads"])
    if k not in order: order.append(k)
for k in sorted(order, key=lambda k: (k[6], k[5] != "infer")):
    p = ms[k]
    g = p.get("gyre")
    if not g: continue
    peers = [p[n]["ms"] for n in ("onnxruntime", "libtorch") if n in p]
    best = min(peers) if peers else float("nan")
    ort = cell(p["onnxruntime"]) if "onnxruntime" in p else "—"
    tor = cell(p["libtorch"]) if "libtorch" in p else "—"
    rss = f'{g["peak_rss_mb"]:.0f} / {p["libtorch"]["peak_rss_mb"]:.0f}' if "libtorch" in p else "—"
    ratio = best / g["ms"]
    if k[5] == "train" and "libtorch" in p: train_ratios[k[6]].append(p["libtorch"]["ms"] / g["ms"])
    mark = "**" if ratio >= 1 else ""
    extra = ""
    if has_base:
        extra = f' {cell(p["gyre-base"])} | {p["gyre-base"]["ms"] / g["ms"]:.2f}× |' if "gyre-base" in p else " — | — |"
    ti = ""
    inf = ms.get(k[:5] + ("infer", k[6]), {}).get("gyre")
    if k[5] == "train" and inf:
        train_infer[k] = g["ms"] / inf["ms"]
        ti = f'{train_infer[k]:.2f}'
    print(f'| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {k[4]} | {k[5]} | {k[6]} | {cell(g)} | {ort} | {tor} | {mark}{ratio:.2f}×{mark} | {g["gflops"]:.0f} | {rss} |{extra} {ti} |')
print()
batched = {k: v for k, v in train_infer.items() if k[1] > 1}
if batched:
    met = sum(1 for v in batched.values() if v <= 3.5)
    print(f"Gyre training ≤ 3.5× its inference on {met} of {len(batched)} batched rows (highest {max(batched.values()):.2f}).")
for t, rs in sorted(train_ratios.items()):
    gm = math.exp(sum(math.log(x) for x in rs) / len(rs))
    print(f"Training vs libtorch at {t} thread(s): geometric mean {gm:.2f}×, lowest row {min(rs):.2f}×.")
