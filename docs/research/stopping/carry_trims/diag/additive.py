"""Positive/negative correction rounds on a slice with a mask: the net's joint mask N vs compositional masks."""
import sys, os, json, numpy as np, torch
torch.set_num_threads(1)
from napari_limnet import benchmark
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.robot_user import run_session
from napari_limnet.evaluation.metrics import dice
from napari_limnet.inference.prompt import predict_prompt_mask
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
rows = []
for case in cases:
    ctrl = LimNetController(case.image, spacing=case.spacing)
    t = case.truth; shape = t.shape[1:]
    seen = {}
    def interact(z, pos, neg, ctrl=ctrl, t=t, case=case):
        prev = ctrl.state.masks.get(z)
        old = seen.get(z, ([], []))
        newpos = [p for p in pos if p not in old[0]]; newneg = [p for p in neg if p not in old[1]]
        rec = None
        if prev is not None and (newpos or newneg):
            click = (newpos or newneg)[-1]
            L = predict_prompt_mask(ctrl._runner, ctrl._source, ctrl.spacing[1:], z, np.array([click], float), np.zeros((0, 2)), None, config=ctrl.prompt).mask
            Ld = L.dense(shape) if L is not None else np.zeros(shape, bool)
            P = prev.dense(shape)
            comp = (P | Ld) if newpos else (P & ~Ld)
            rec = dict(case=case.name, group=case.group, z=z, kind='pos' if newpos else 'neg', truth=int(t[z].sum()), prev=int(P.sum()),
                       L=int(Ld.sum()), comp=int(comp.sum()), d_prev=dice(P, t[z]), d_comp=dice(comp, t[z]), d_L=dice(Ld, t[z]))
        m = ctrl.interact(z, pos, neg)
        seen[z] = (list(pos), list(neg))
        if rec is not None:
            N = m[z]; rec.update(N=int(N.sum()), d_N=dice(N, t[z])); rows.append(rec)
        return m
    s = run_session(interact, t, args.rounds)
    print(case.name, case.group, [round(d, 3) for d in s.dice], flush=True)
json.dump(rows, open(os.environ['OUT'], 'w'))
