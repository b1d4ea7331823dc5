"""Diagnostic: how the first click's collapse guard (``prompt.COLLAPSE_CONTRAST``) was chosen.

    python docs/research/prompt/collapse_guard_first_click.py [--out docs/research/prompt/collapse_guard_first_click.json]

The robot's first click of each case (generated textured and packed nuclei, the synthetic hold-out,
the 40 training-volume structures; never dev), its 2D preview with and without
``PromptConfig.collapse_guard``, against the true mask of that slice. For every re-framed pass after
a larger window won on a clear edge, it records the pass's outline contrast and mask area next to
those of the last pass on the edge: a collapse is a pass that is smaller and has lost most of the
contrast, a wobble one that stays near it.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch


def main(argv=None) -> None:
    from napari_limnet.controller import LimNetController
    from napari_limnet.evaluation.cases import load_train_cases, synthetic_holdout
    from napari_limnet.evaluation.metrics import dice
    from napari_limnet.evaluation.packed_nuclei import packed_nuclei_cases
    from napari_limnet.evaluation.robot_user import first_click
    from napari_limnet.evaluation.textured_nuclei import textured_nuclei_cases
    from napari_limnet.inference import prompt
    from napari_limnet.inference.prompt import PromptConfig

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="docs/research/prompt/collapse_guard_first_click.json")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    passes: list[dict] = []
    judge = prompt.EdgePass.collapsed_into

    def recording(edge, contrast, area):
        collapsed = judge(edge, contrast, area)
        passes.append({"contrast": round(float(contrast), 3), "edge_contrast": round(float(edge.contrast), 3),
                       "area": int(area), "edge_area": int(edge.area), "collapsed": bool(collapsed)})
        return collapsed

    prompt.EdgePass.collapsed_into = recording
    groups = {"textured_nuclei": textured_nuclei_cases(8), "packed_nuclei": packed_nuclei_cases(12),
              "synthetic": synthetic_holdout(8), "train": load_train_cases(40)}
    rows = []
    for group, cases in groups.items():
        for case in cases:
            z, yx = first_click(case.truth)
            truth = case.truth[z]
            off = LimNetController(case.image, spacing=case.spacing, prompt=PromptConfig(collapse_guard=False)).preview(z, [yx], [])
            passes.clear()
            on = LimNetController(case.image, spacing=case.spacing).preview(z, [yx], [])
            rows.append({"name": case.name, "group": group, "dice_without": round(dice(off, truth), 4),
                         "dice_with": round(dice(on, truth), 4), "reframes": list(passes)})
        sel = [r for r in rows if r["group"] == group]
        print(f"{group} ({len(sel)}): first-click Dice {np.mean([r['dice_without'] for r in sel]):.3f} -> "
              f"{np.mean([r['dice_with'] for r in sel]):.3f}", flush=True)
    for r in rows:
        for q in r["reframes"]:
            if q["contrast"] < prompt.EDGE_CONTRAST:
                print(f"  {r['name']}: contrast {q['contrast']:.2f} / {q['edge_contrast']:.2f} on the edge "
                      f"(x{q['contrast'] / q['edge_contrast']:.2f}), area {q['area']} / {q['edge_area']} "
                      f"(x{q['area'] / max(q['edge_area'], 1):.2f}) -> {'collapse' if q['collapsed'] else 'kept'}; "
                      f"Dice {r['dice_without']:.3f} -> {r['dice_with']:.3f}")
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
