import json, sys, collections, numpy as np
EDGE, NOEDGE, WEAKL, SG, SF = 1.0, 0.1, 2, 1.25, 0.3
def c(r, f, avg=True):
    v = r['f'][str(f)]; return max(v['raw'], v['avg']) if avg else v['raw']
def shipped_rule(r):
    first = c(r, 1, False)
    chosen = 1
    if first < EDGE:
        facs = (2,) if first >= NOEDGE else (2, 4)
        for f in facs:
            if c(r, f) >= EDGE: chosen = f; break
    if chosen == 1 and first < EDGE and c(r, 0.5) >= max(SF, SG * c(r, 1)):
        chosen = 0.5
    return chosen
def small_first(r):
    first = c(r, 1, False)
    if first < EDGE and c(r, 0.5) >= max(SF, SG * c(r, 1)):
        return 0.5
    return shipped_rule(r)
def area_guard(r, k=4.0):
    # a larger window's win needs its mask area within k x the 1x window's pixel area... (placeholder)
    return shipped_rule(r)
rules = dict(shipped=shipped_rule, small_first=small_first)
def main():
    rows = json.load(open(sys.argv[1]))
    by = collections.defaultdict(list)
    for r in rows: by[r['group']].append(r)
    for g, rs in by.items():
        out = [f"{g:16s} n={len(rs):3d} real {np.mean([r['shipped'] for r in rs]):.3f}"]
        for name, fn in rules.items():
            picks = [fn(r) for r in rs]
            d = [r['f'][str(p)]['dice'] for r, p in zip(rs, picks)]
            out.append(f"{name} {np.mean(d):.3f} {dict(collections.Counter(picks))}")
        print(" | ".join(out))
if __name__ == '__main__':
    main()
