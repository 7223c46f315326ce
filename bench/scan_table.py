#!/usr/bin/env python3
"""Markdown table from `gyre bench scan --json` lines: sequential vs parallel-in-time forward per row.

Rows repeated in the file (several rounds, e.g. from bench/scan_cells.sh) are reduced to the median of each
column per (cell, weights, batch, seq); the table says how many rounds each row has.

usage: gyre bench scan --json > scan.jsonl; python3 bench/scan_table.py scan.jsonl
"""
import json
import statistics
import sys

groups = {}
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    groups.setdefault((r["cell"], r["weights"], r["batch"], r["seq"]), []).append(r)

rounds = max(len(v) for v in groups.values())
print("| layer | weights | B | T | sequential ms | parallel ms | parallel / sequential speed | Newton iterations | max abs diff |"
      + (" rounds |" if rounds > 1 else ""))
print("|---|---|---|---|---|---|---|---|---|" + ("---|" if rounds > 1 else ""))
for (cell, weights, b, t), rs in groups.items():
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    newton = cell.startswith("para")
    its = str(int(med("iterations"))) if newton else "–"
    speed = statistics.median(r["sequential_ms"] / r["parallel_ms"] for r in rs)
    print(f"| {cell} | {weights} | {b} | {t} | {med('sequential_ms'):.1f} | {med('parallel_ms'):.1f} "
          f"| {speed:.2f}× | {its} | {max(float(r['max_abs_diff']) for r in rs):.1e} |" + (f" {len(rs)} |" if rounds > 1 else ""))
