"""Erase rounds: where each leak-cut rule would cut the chain, and the voxels each choice removes."""
import sys, json, os, numpy as np, torch, collections
from dataclasses import replace
torch.set_num_threads(1)
from napari_limnet import benchmark
import napari_limnet.controller as C
from napari_limnet.inference import rounds as R
from napari_limnet.inference.stopping import LeakCutRule, SliceEvidence, INTERACTED, leak_cut
from napari_limnet.evaluation.robot_user import run_session
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
RULES = {'shipped': LeakCutRule(), 'valley': LeakCutRule(drift_tolerance=None, growth=None), 'drift': LeakCutRule(valley=None, growth=None),
         'growth': LeakCutRule(valley=None, drift_tolerance=None), 'none': LeakCutRule(valley=None, drift_tolerance=None, growth=None)}
rows = []; cur = {}
orig = C.plan_leak_cut
def spy(state, z, rule):
    out = orig(state, z, rule)
    src = R.propagated_source(state, z)
    if src is None: return out
    step = 1 if z > src else -1
    chain = [s for s in range(src + step, z, step)]
    if any(state.sources.get(s) != src or state.masks.get(s) is None for s in chain) or not chain: return out
    ev = [state.evidence.get(s, INTERACTED) for s in chain]
    ev = [SliceEvidence(e.presence, e.drift, state.masks[s].area, e.uncertain) for s, e in zip(chain, ev)]
    t = cur['truth']; shape = t.shape[1:]
    tp = [int((state.masks[s].dense(shape) & t[s]).sum()) for s in chain]
    fp = [state.masks[s].area - a for s, a in zip(chain, tp)]
    keeps = {k: leak_cut(ev, float(state.masks[src].area), r) for k, r in RULES.items()}
    keeps['earliest'] = min(keeps['valley'], keeps['drift'], keeps['growth'])
    rows.append(dict(case=cur['name'], group=cur['group'], n=len(chain), tp=tp, fp=fp, keeps=keeps, truth_total=int(t.sum())))
    return out
C.plan_leak_cut = spy
for case in cases:
    cur.update(truth=case.truth, name=case.name, group=case.group)
    ctrl = C.LimNetController(case.image, spacing=case.spacing)
    run_session(lambda z, p, n: ctrl.interact(z, p, n), case.truth, 6)
    print(case.name, flush=True)
json.dump(rows, open(os.environ['OUT'], 'w'))
