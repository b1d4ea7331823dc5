import json, sys, collections, numpy as np
rows = json.load(open(sys.argv[1]))
st = collections.defaultdict(list)
for r in rows:
    g = 'train' if r['group'].startswith('train') else r['group']
    ratio = r['N'] / max(1, r['comp'])
    b = 'N>2comp' if ratio > 2 else 'N<0.5comp' if ratio < 0.5 else 'similar'
    st[(g, r['kind'], b)].append((r['d_prev'], r['d_N'], r['d_comp'], r['d_L']))
    st[(g, r['kind'], 'all')].append((r['d_prev'], r['d_N'], r['d_comp'], r['d_L']))
for k in sorted(st):
    v = np.array(st[k]); print(f"{k[0]:16s} {k[1]} {k[2]:10s} n={len(v):3d} prev {v[:,0].mean():.3f} N {v[:,1].mean():.3f} comp {v[:,2].mean():.3f} L {v[:,3].mean():.3f}  N worse than prev: {(v[:,1] < v[:,0] - 0.05).sum()}  comp worse than prev: {(v[:,2] < v[:,0]-0.05).sum()}")
