"""Erase rounds: voxels cleared on slices whose content is older than the erased slice's content."""
import sys, numpy as np, torch, collections
torch.set_num_threads(1)
from napari_limnet import benchmark
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.robot_user import run_session
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
agg = collections.Counter()
for case in cases:
    ctrl = LimNetController(case.image, spacing=case.spacing); t = case.truth
    stamp = {}; k = [0]
    def interact(z, pos, neg):
        k[0] += 1
        before = {s: m.dense(t.shape[1:]) for s, m in ctrl.state.masks.items()}
        m = ctrl.interact(z, pos, neg)
        after = ctrl.state.masks
        changed = [s for s in set(before) | set(after) if not np.array_equal(before.get(s, np.zeros(t.shape[1:], bool)), m[s])]
        if not pos and z not in after and z in before:  # an erase
            zs = stamp.get(z, 0)
            for s in changed:
                if s == z or s in after: continue
                old = stamp.get(s, 0) < zs
                tp = int((before[s] & t[s]).sum()); fp = int((before[s] & ~t[s]).sum())
                key = 'older' if old else 'same'
                agg[key + '_slices'] += 1; agg[key + '_tp'] += tp; agg[key + '_fp'] += fp
        for s in changed: stamp[s] = k[0]
        return m
    run_session(interact, t, 6)
print(dict(agg))
