"""First-click prompt 2D Dice: shipped interaction net vs another net used for the first click only."""
import sys, os, numpy as np, torch
torch.set_num_threads(1)
from napari_limnet import benchmark
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import first_click, jittered
from napari_limnet.inference.prompt import predict_prompt_mask
from napari_limnet.inference.runner import NetRunner
from napari_limnet.modeling.weights import LimNetModels
other = NetRunner(LimNetModels.load('cpu', os.environ['FIRSTNET']))
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
res = {}
for case in cases:
    z, yx0 = first_click(case.truth)
    ctl = LimNetController(case.image, spacing=case.spacing)
    shape = ctl._source.slice_shape
    out = []
    for j in range(3):
        yx = yx0 if j == 0 else jittered(case.truth[z], yx0, 2, np.random.default_rng(j))
        pos = np.array([yx], float)
        row = []
        for runner in (ctl._runner, other):
            r = predict_prompt_mask(runner, ctl._source, ctl.spacing[1:], z, pos, np.zeros((0, 2)), None, config=ctl.prompt)
            m = r.mask.dense(shape) if r.mask is not None else np.zeros(shape, bool)
            row.append(dice(m, case.truth[z]))
        res.setdefault(case.group, []).append(row)
    print(case.name, flush=True)
for g, v in res.items():
    v = np.array(v); print(g, len(v), 'shipped %.3f other %.3f' % tuple(v.mean(0)), 'better/worse by >0.05: %d/%d' % ((v[:, 1] > v[:, 0] + 0.05).sum(), (v[:, 1] < v[:, 0] - 0.05).sum()))
