"""For each correction round: is the click honoured on its slice after the round?"""
from scipy import ndimage as ndi
import sys, json, numpy as np, torch
torch.set_num_threads(1)
from napari_limnet import benchmark
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.robot_user import run_session
from napari_limnet.evaluation.metrics import dice
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
rows = []
for case in cases:
    ctrl = LimNetController(case.image, spacing=case.spacing)
    t = case.truth
    def interact(z, pos, neg, ctrl=ctrl, t=t, case=case):
        before = ctrl.state.masks.get(z)
        ba = before.area if before is not None else 0
        m = ctrl.interact(z, pos, neg)
        last_pos = len(pos) and (pos[-1] if True else None)
        rows.append(dict(case=case.name, group=case.group, z=z, npos=len(pos), nneg=len(neg),
                         neg_covered=[bool(m[z][y, x]) for y, x in neg], neg_hole=[bool(ndi.binary_fill_holes(m[z])[y, x] and not m[z][y, x]) for y, x in neg], neg_in_before=[bool(before is not None and before.dense(t.shape[1:])[y, x]) for y, x in neg], pos_covered=[bool(m[z][y, x]) for y, x in pos],
                         before=int(ba), after=int(m[z].sum()), truth=int(t[z].sum()), tp_before=int((before.dense(t.shape[1:]) & t[z]).sum()) if before is not None else 0,
                         tp_after=int((m[z] & t[z]).sum()), dice=dice(m, t)))
        return m
    s = run_session(interact, t, args.rounds, jitter=args.robot_jitter, seed=0)
    print(case.name, case.group, [round(d, 3) for d in s.dice], flush=True)
import os; json.dump(rows, open(os.environ['OUT'], 'w'))
