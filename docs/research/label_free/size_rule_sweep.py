"""Which size filter keeps pseudo-objects that look like objects? On training-side synthetic volumes
only (packed and textured nuclei), never dev.

    python docs/research/label_free/size_rule_sweep.py

Per volume and size rule: kept objects, mean best Dice with the true nuclei, the share of kept
pseudo-objects that are junk (best Dice < 0.2) and the verdict.
"""

import numpy as np

from napari_limnet.adaptation.pseudo_labels import pseudo_objects
from napari_limnet.evaluation.metrics import mean_best_dice
from napari_limnet.evaluation.packed_nuclei import SPACING as PACKED_SPACING
from napari_limnet.evaluation.packed_nuclei import packed_nuclei_volume
from napari_limnet.evaluation.textured_nuclei import SPACING as TEXTURED_SPACING
from napari_limnet.evaluation.textured_nuclei import textured_nuclei_volume


def junk_share(labels, truth) -> float:
    bad = 0
    n = int(labels.max())
    for i in range(1, n + 1):
        m = labels == i
        hit = truth[m]
        hit = hit[hit > 0]
        if hit.size == 0:
            bad += 1
            continue
        t = truth == np.bincount(hit).argmax()
        bad += int(2.0 * (m & t).sum() / (m.sum() + t.sum()) < 0.2)
    return bad / max(n, 1)


def volumes():
    for k in range(3):
        yield f"packed {k}", *packed_nuclei_volume(k), PACKED_SPACING
    for k in range(6):
        yield f"textured {k}", *textured_nuclei_volume(k), TEXTURED_SPACING


def main():
    rows = {}
    for name, img, truth, spacing in volumes():
        for rule in ("percentiles", "typical"):
            lab, rep = pseudo_objects(img, spacing, size_rule=rule)
            row = (rep.n_objects, mean_best_dice(lab, truth), junk_share(lab, truth), rep.suitable)
            rows.setdefault(rule, []).append(row)
            print(f"{name:<14} {rule:<12} objects {row[0]:3d}  best Dice {row[1]:.3f}  junk {row[2]:.2f}  "
                  f"{'suitable' if row[3] else 'not suitable'}", flush=True)
    for rule, rs in rows.items():
        print(f"mean {rule:<12} best Dice {np.mean([r[1] for r in rs]):.3f}  junk {np.mean([r[2] for r in rs]):.3f}")


if __name__ == "__main__":
    main()
