"""Per first click and window factor: features of the window's mask (as the shipped search measures them) and its 2D Dice."""
import sys, os, json, numpy as np, torch
torch.set_num_threads(1)
from napari_limnet import benchmark
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import first_click, jittered
import napari_limnet.inference.prompt as P
from napari_limnet.inference.slice_io import paste_mask
FACT = (0.5, 1, 2, 4)
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
rows = []
for case in cases:
    z, yx0 = first_click(case.truth)
    ctl = LimNetController(case.image, spacing=case.spacing)
    shape = ctl._source.slice_shape; cfg = ctl.prompt; sp = ctl.spacing[1:]
    for j in range(5):
        yx = yx0 if j == 0 else jittered(case.truth[z], yx0, 3, np.random.default_rng(j))
        pos, neg = np.array([yx], float), np.zeros((0, 2))
        box = P.size_prior_box(pos, sp)
        rec = {}; masks = {}
        for f in FACT:
            cand = box.scaled(f) if f != 1 else box
            if f > 1 and min(cand.height, cand.width) > 1.5 * max(shape):
                continue
            x = P.interaction_input(ctl._source, z, cand, pos, neg, None, 128, cfg.padding)
            logits = ctl._runner.interaction(x)[0, 0]
            drawn = (logits > 0).float()
            shown = P._shown(cand, shape, 128, cfg)
            raw = P.boundary_contrast(x[0, 0], drawn, inside_slice=shown)
            avg = P.boundary_contrast(x[0, 0], drawn, smooth=P.TEXTURE_SMOOTH, inside_slice=shown)
            m = P.clean_prompt_mask(paste_mask(logits, cand, shape), pos, neg, None)
            md = m.dense(shape) if m is not None else np.zeros(shape, bool)
            p = torch.sigmoid(logits)
            edge = torch.cat([drawn[0], drawn[-1], drawn[:, 0], drawn[:, -1]]).mean().item()
            near = (torch.nn.functional.max_pool2d(drawn[None, None], 9, 1, 4)[0, 0] > 0) & (-torch.nn.functional.max_pool2d(-drawn[None, None], 9, 1, 4)[0, 0] < 1)
            unc = float(torch.minimum(p, 1 - p)[near].mean()) if near.any() else 0.5
            masks[f] = md
            rec[str(f)] = dict(dice=dice(md, case.truth[z]), raw=raw, avg=avg, area=int(md.sum()), crop_frac=float(drawn.mean()), border=edge, unc=unc,
                               window=cand.height * cand.width)
        fs = sorted(masks)
        for a, b in zip(fs, fs[1:]):
            u = (masks[a] | masks[b]).sum(); rec[f"iou_{a}_{b}"] = float((masks[a] & masks[b]).sum() / u) if u else 0.0
        r = P.predict_prompt_mask(ctl._runner, ctl._source, sp, z, pos, neg, None, config=cfg)
        sm = r.mask.dense(shape) if r.mask is not None else np.zeros(shape, bool)
        rows.append(dict(case=case.name, group=case.group, jitter=j, shipped=dice(sm, case.truth[z]), f=rec))
    print(case.name, case.group, flush=True)
json.dump(rows, open(os.environ['OUT'], 'w'))
