import json, sys, collections, numpy as np
rows = json.load(open(sys.argv[1]))
F = ['0.25', '0.5', '1', '2', '4']
by = collections.defaultdict(list)
for r in rows: by[r['group']].append(r)
for g, rs in by.items():
    sh = np.mean([r['shipped'] for r in rs])
    orc = np.mean([max(r['f'][f]['dice'] for f in F) for r in rs])
    per = {f: round(float(np.mean([r['f'][f]['dice'] for r in rs])), 3) for f in F}
    best = collections.Counter(max(F, key=lambda f: r['f'][f]['dice']) for r in rs)
    print(f"{g:16s} n={len(rs)} shipped {sh:.3f} oracle {orc:.3f} per-factor {per} best {dict(best)}")
