import json, os, sys, collections, numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the other diagnostics of this folder
from replay import c, shipped_rule, EDGE, NOEDGE, SF, SG
def make(facs_noedge=(2, 4), iou_tau=None, small_before_large=False):
    def rule(r):
        first = c(r, 1, False); chosen = 1
        if first < EDGE:
            facs = (2,) if first >= NOEDGE else facs_noedge
            for f in facs:
                if c(r, f) >= EDGE:
                    if iou_tau is not None and f * 2 <= 4 and r['f'][f'iou_{f}_{f*2}'] < iou_tau:
                        continue
                    chosen = f; break
        if chosen == 1 and first < EDGE and c(r, 0.5) >= max(SF, SG * c(r, 1)):
            chosen = 0.5
        return chosen
    return rule
rules = {'shipped': shipped_rule, 'no4x': make((2,)), 'iou2_4>=0.5': make(iou_tau=0.5), 'iou2_4>=0.5,no4x': make((2,), iou_tau=0.5)}
for fn in sys.argv[1:]:
    rows = json.load(open(fn)); by = collections.defaultdict(list)
    for r in rows: by[r['group']].append(r)
    for g, rs in by.items():
        out = [f"{g:16s} n={len(rs):3d} real {np.mean([r['shipped'] for r in rs]):.3f}"]
        for name, fn_ in rules.items():
            d = [r['f'][str(fn_(r))]['dice'] for r in rs]
            out.append(f"{name} {np.mean(d):.3f}")
        print(" | ".join(out))
