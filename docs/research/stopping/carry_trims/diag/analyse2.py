import json, sys, collections
rows = json.load(open(sys.argv[1]))
g = collections.defaultdict(lambda: collections.Counter())
for r in rows:
    if r['nneg'] == 0: continue
    kind = 'negonly' if r['npos'] == 0 else 'mixed'
    key = (r['group'], kind)
    c = g[key]; c['n'] += 1
    hole = r['neg_hole'][-1]; inb = r['neg_in_before'][-1]
    c['in_before'] += inb
    c['hole'] += hole
    if hole:
        f = r['tp_before'] / max(1, r['before'])
        c['hole_tp<0.2'] += f < 0.2
        c['hole_tp>0.5'] += f > 0.5
        c['hole_truth0'] += r['truth'] == 0
for k in sorted(g): print(k, dict(g[k]))
