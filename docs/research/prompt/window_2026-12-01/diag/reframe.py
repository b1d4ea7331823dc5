"""Per first click: every pass of the shipped first-click procedure (after the window search): area, Dice, contrast."""
import sys, os, json, numpy as np, torch
torch.set_num_threads(1)
from napari_limnet import benchmark
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import first_click, jittered
import napari_limnet.inference.prompt as P
from napari_limnet.inference.crops import CropBox, union_bbox, points_bbox
from napari_limnet.inference.slice_io import paste_mask
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
rows = []
for case in cases:
    z, yx0 = first_click(case.truth)
    ctl = LimNetController(case.image, spacing=case.spacing)
    shape = ctl._source.slice_shape; sp = ctl.spacing[1:]
    for j in range(3):
        yx = yx0 if j == 0 else jittered(case.truth[z], yx0, 2, np.random.default_rng(j))
        pos, neg = np.array([yx], float), np.zeros((0, 2))
        box = P.size_prior_box(pos, sp)
        box, passes, edge, _ = P._first_scale(ctl._runner, ctl._source, sp, z, box, pos, neg, 128, ctl.prompt)
        seq = []
        clicks_box = points_bbox(pos)
        for k in range(6):
            x = P.interaction_input(ctl._source, z, box, pos, neg, None, 128, 'edge')
            logits = ctl._runner.interaction(x)[0, 0]
            m = P.clean_prompt_mask(paste_mask(logits, box, shape), pos, neg, None)
            md = m.dense(shape) if m is not None else np.zeros(shape, bool)
            con = P._outline_contrast(x[0, 0], (logits > 0).float(), averaged=True)
            seq.append(dict(side=box.height, area=int(md.sum()), dice=dice(md, case.truth[z]), contrast=con,
                            unc=float(torch.minimum(torch.sigmoid(logits), 1 - torch.sigmoid(logits)).mean())))
            if m is None: break
            wanted = CropBox.framing(union_bbox(m.bbox, clicks_box), sp)
            if P._stable(box, wanted): break
            box = P._limit_growth(box, wanted)
        rows.append(dict(case=case.name, group=case.group, jitter=j, truth=int(case.truth[z].sum()), edge_won=edge is not None, seq=seq))
    print(case.name, case.group, [[round(s['dice'], 2) for s in r['seq']] for r in rows[-3:]], flush=True)
json.dump(rows, open(os.environ['OUT'], 'w'))
