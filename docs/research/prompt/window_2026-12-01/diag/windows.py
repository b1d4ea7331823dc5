"""Per first click: each window factor's slice mask, Dice, contrasts, and the shipped prompt's Dice."""
import sys, os, json, numpy as np, torch
torch.set_num_threads(1)
from napari_limnet import benchmark
from napari_limnet.controller import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import first_click, jittered
from napari_limnet.inference.prompt import TEXTURE_SMOOTH, boundary_contrast, clean_prompt_mask, interaction_input, size_prior_box, predict_prompt_mask
from napari_limnet.inference.slice_io import paste_mask
FACT = (0.25, 0.5, 1, 2, 4)
args = benchmark.build_parser().parse_args(sys.argv[1:])
cases = benchmark.load_cases(args)
rows = []
for case in cases:
    z, yx0 = first_click(case.truth)
    ctl = LimNetController(case.image, spacing=case.spacing)
    shape = ctl._source.slice_shape
    for j in range(3):
        yx = yx0 if j == 0 else jittered(case.truth[z], yx0, 2, np.random.default_rng(j))
        pos, neg = np.array([yx], float), np.zeros((0, 2))
        box = size_prior_box(pos, ctl.spacing[1:])
        masks, rec = {}, {}
        for f in FACT:
            cand = box.scaled(f) if f != 1 else box
            x = interaction_input(ctl._source, z, cand, pos, neg, None)
            logits = ctl._runner.interaction(x)[0, 0]
            m = clean_prompt_mask(paste_mask(logits, cand, shape), pos, neg, None)
            m = m.dense(shape) if m is not None else np.zeros(shape, bool)
            drawn = (logits > 0).float()
            raw = boundary_contrast(x[0, 0], drawn); avg = boundary_contrast(x[0, 0], drawn, smooth=TEXTURE_SMOOTH)
            p = torch.sigmoid(logits)
            masks[f] = m
            rec[str(f)] = dict(dice=dice(m, case.truth[z]), raw=raw, avg=avg, area=int(m.sum()),
                               crop_area=int(drawn.sum()), border=float(torch.cat([drawn[0], drawn[-1], drawn[:, 0], drawn[:, -1]]).mean()), border2=float(torch.cat([drawn[:4].flatten(), drawn[-4:].flatten(), drawn[:, :4].flatten(), drawn[:, -4:].flatten()]).mean()), unc=float(torch.minimum(p, 1 - p).mean()))
        for a, b in zip(FACT, FACT[1:]):
            u = (masks[a] | masks[b]).sum(); rec[f"iou_{a}_{b}"] = float((masks[a] & masks[b]).sum() / u) if u else 0.0
        r = predict_prompt_mask(ctl._runner, ctl._source, ctl.spacing[1:], z, pos, neg, None, config=ctl.prompt)
        sm = r.mask.dense(shape) if r.mask is not None else np.zeros(shape, bool)
        rows.append(dict(case=case.name, group=case.group, jitter=j, truth=int(case.truth[z].sum()), shipped=dice(sm, case.truth[z]), shipped_area=int(sm.sum()), f=rec))
    print(case.name, case.group, [round(rows[-3 + k]['shipped'], 2) for k in range(3)], flush=True)
json.dump(rows, open(os.environ['OUT'], 'w'))
