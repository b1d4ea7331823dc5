import json, os, sys, collections, numpy as np
W = {(r['case'], r['jitter']): r for r in json.load(open(sys.argv[2]))}
rows = json.load(open(sys.argv[1]))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the other diagnostics of this folder
from replay import shipped_rule
bins = collections.defaultdict(list)
for r in rows:
    w = W[(r['case'], r['jitter'])]
    ch = shipped_rule(w)
    single = w['f'][str(ch)]['dice']
    final = r['seq'][-1]['dice']; side = r['seq'][-1]['side']
    b = '<24' if side < 24 else '<32' if side < 32 else '<48' if side < 48 else '<64' if side < 64 else '>=64'
    bins[(r['group'] if r['group'] in ('train','macaque','nuclei3d','synthetic') else 'other', b)].append((single, final, r['seq'][0]['dice']))
for k in sorted(bins):
    v = np.array(bins[k]); print(k, len(v), 'single %.3f first-reframe %.3f final %.3f' % (v[:,0].mean(), v[:,2].mean(), v[:,1].mean()))
