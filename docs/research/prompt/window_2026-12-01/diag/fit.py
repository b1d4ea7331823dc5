import json, sys, collections, numpy as np
rows = json.load(open(sys.argv[1]))
F = ['0.5', '1', '2', '4']
def feats(r, f):
    v = r['f'][f]; a1 = max(r['f']['1']['area'], 1)
    i = F.index(f)
    lo = r['f'].get(f"iou_{F[i-1]}_{f}" if i > 0 else '', 0.0) if i > 0 else 0.0
    hi = r['f'].get(f"iou_{f}_{F[i+1]}", 0.0) if i + 1 < len(F) else 0.0
    c = max(v['raw'], v['avg'])
    oh = [float(f == g) for g in F]
    base = [v['raw'], v['avg'], c, np.log1p(c), np.log1p(v['area']), np.log((v['area'] + 1) / a1), v['crop_frac'], v['border'], v['unc'], lo, hi,
            float(v['area'] == 0)]
    return oh + base + [o * c for o in oh] + [o * lo for o in oh] + [o * hi for o in oh]
def dataset(rs):
    X, y, idx = [], [], []
    for k, r in enumerate(rs):
        for f in F:
            if f in r['f']:
                X.append(feats(r, f)); y.append(r['f'][f]['dice']); idx.append((k, f))
    return np.array(X), np.array(y), idx
def fit(X, y, lam=1.0):
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    Z1 = np.c_[Z, np.ones(len(Z))]
    w = np.linalg.solve(Z1.T @ Z1 + lam * np.eye(Z1.shape[1]), Z1.T @ y)
    return lambda X: np.c_[(X - mu) / sd, np.ones(len(X))] @ w
names = sorted({r['case'] for r in rows})
fold = {n: i % 3 for i, n in enumerate(names)}
res = collections.defaultdict(lambda: collections.defaultdict(list))
for k in range(3):
    tr = [r for r in rows if fold[r['case']] != k]; te = [r for r in rows if fold[r['case']] == k]
    X, y, _ = dataset(tr); model = fit(X, y, float(sys.argv[2]) if len(sys.argv) > 2 else 1.0)
    for r in te:
        avail = [f for f in F if f in r['f']]
        pred = model(np.array([feats(r, f) for f in avail]))
        pick = avail[int(np.argmax(pred))]
        g = r['group']
        res[g]['learned'].append(r['f'][pick]['dice'])
        res[g]['oracle'].append(max(r['f'][f]['dice'] for f in avail))
        res[g]['shipped(real)'].append(r['shipped'])
        res[g]['1x'].append(r['f']['1']['dice'])
for g, d in res.items():
    print(f"{g:16s} n={len(d['learned'])} " + " ".join(f"{m} {np.mean(v):.3f}" for m, v in d.items()))
