#!/usr/bin/env python3
"""Markdown table from `gyre bench scan --json` lines: sequential vs parallel-in-time forward per row.

usage: gyre bench scan --json > scan.jsonl; python3 bench/scan_table.py scan.jsonl
"""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
print("| layer | weights | B | T | sequential ms | parallel ms | parallel / sequential speed | Newton iterations | max abs diff |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    its = str(r["iterations"]) if r["cell"].startswith("para") else "–"
    print(f"| {r['cell']} | {r['weights']} | {r['batch']} | {r['seq']} | {r['sequential_ms']:.1f} | {r['parallel_ms']:.1f} "
          f"| {r['speedup']:.2f}× | {its} | {float(r['max_abs_diff']):.1e} |")
