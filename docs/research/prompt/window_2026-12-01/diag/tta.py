"""First-click prompt 2D Dice: shipped vs flip-TTA of the interaction net (real predict_prompt_mask)."""
import sys, os, json, numpy as np, torch
torch.set_num_threads(1)
from napari_limnet import benchmark
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import first_click, jittered
from napari_limnet.inference.prompt import predict_prompt_mask
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
def tta(fn):
    def run(x):
        outs = []
        for dims in ((), (2,), (3,), (2, 3)):
            xi = torch.flip(x, dims) if dims else x
            o = fn(xi)
            outs.append(torch.flip(o, dims) if dims else o)
        return torch.stack(outs).mean(0)
    return run
res = {}
for case in cases:
    z, yx0 = first_click(case.truth)
    ctl = LimNetController(case.image, spacing=case.spacing)
    shape = ctl._source.slice_shape
    plain = ctl._runner.interaction
    for j in range(3):
        yx = yx0 if j == 0 else jittered(case.truth[z], yx0, 2, np.random.default_rng(j))
        pos = np.array([yx], float)
        out = []
        for mode in ('plain', 'tta'):
            ctl._runner.interaction = plain if mode == 'plain' else tta(plain)
            r = predict_prompt_mask(ctl._runner, ctl._source, ctl.spacing[1:], z, pos, np.zeros((0, 2)), None, config=ctl.prompt)
            m = r.mask.dense(shape) if r.mask is not None else np.zeros(shape, bool)
            out.append(dice(m, case.truth[z]))
        res.setdefault(case.group, []).append(out)
    print(case.name, [round(v, 2) for v in out], flush=True)
for g, v in res.items():
    v = np.array(v); print(g, len(v), 'plain %.3f tta %.3f' % tuple(v.mean(0)))
