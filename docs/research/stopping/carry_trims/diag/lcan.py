import json, sys, collections, numpy as np
rows = json.load(open(sys.argv[1]))
K = ['none', 'shipped', 'valley', 'drift', 'growth', 'earliest']
agg = collections.defaultdict(lambda: collections.defaultdict(list))
for r in rows:
    g = r['group'].replace('_border', '')
    for k in K:
        keep = r['keeps'][k]
        tpr = sum(r['tp'][keep:]); fpr = sum(r['fp'][keep:])
        agg[g][k].append(((fpr - tpr) / r['truth_total'], tpr / r['truth_total'], fpr / r['truth_total']))
for g, d in agg.items():
    print(f"{g:16s} n={len(d['none'])} " + " | ".join(f"{k} net {np.mean([x[0] for x in v]):+.3f} tp- {np.mean([x[1] for x in v]):.3f}" for k, v in d.items()))
