# Before/after and peer ratios for one day's results: python3 bench/gyre_vs_peers.py [date] [peer results dir]
# ms per row = median over the grid file and the repeats file; peers: fastest of their runs per row.
import json,sys,glob,statistics,os
def load(f):
    return [json.loads(l) for l in open(f) if l.strip().startswith('{')]
date=sys.argv[1] if len(sys.argv)>1 else '20261130'
peerdir=sys.argv[2] if len(sys.argv)>2 else 'bench/results'
gy=load(f'bench/results/gyre-{date}.jsonl')
rep=load(f'bench/results/gyre-{date}-repeats.jsonl') if os.path.exists(f'bench/results/gyre-{date}-repeats.jsonl') else []
base={}
for f in [f'bench/results/gyre-before-{date}.jsonl']:
    try:
        for r in load(f): base[(r['cell'],r['batch'],r['seq'],r['input'],r['hidden'],r['mode'],r['threads'])]=r['ms']
    except FileNotFoundError: pass
peers={}
for f in glob.glob(os.path.join(peerdir,'peers-*.jsonl')):
    for r in load(f):
        k=(r['peer'],r['cell'],r['batch'],r['seq'],r['input'],r['hidden'],r['mode'],r['threads'])
        peers[k]=min(peers.get(k,1e18),r['ms'])
key=lambda r:(r['cell'],r['batch'],r['seq'],r['input'],r['hidden'],r['mode'],r['threads'])
# median of grid + repeats per row
allr={}
for r in gy+rep: allr.setdefault(key(r),[]).append(r['ms'])
print(f"{'cell':>4} {'B':>4} {'T':>5} {'I':>4} {'H':>4} {'mode':>5} {'thr':>3} {'before ms':>10} {'gyre ms':>9} {'speedup':>7} {'ort ms':>9} {'torch ms':>9} {'ort/gyre':>8} {'torch/gyre':>10} {'GFLOP/s':>8}")
for r in gy:
    k=key(r); ms=statistics.median(allr[k])
    b=base.get(k); o=peers.get(('onnxruntime',)+k); t=peers.get(('libtorch',)+k)
    f=lambda x:'-' if x is None else f"{x:.3f}"
    fr=lambda x:'-' if x is None else f"{x/ms:.2f}"
    g=r['gflops']*r['ms']/ms
    print(f"{r['cell']:>4} {r['batch']:>4} {r['seq']:>5} {r['input']:>4} {r['hidden']:>4} {r['mode']:>5} {r['threads']:>3} {f(b):>10} {ms:>9.3f} {fr(b):>7} {f(o):>9} {f(t):>9} {fr(o):>8} {fr(t):>10} {g:>8.1f}")
