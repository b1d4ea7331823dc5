"""Pseudo-object settings on synthetic nuclei (packed, textured): mean best Dice with the true nuclei and median
surface isolation, per (sigma, fill holes, seed distance). Run from the repository root with the venv's python."""
import numpy as np, itertools
from napari_limnet.adaptation.pseudo_labels import pseudo_objects
from napari_limnet.evaluation.packed_nuclei import packed_nuclei_volume, SPACING as PS
from napari_limnet.evaluation.textured_nuclei import textured_nuclei_volume
from napari_limnet.data.samples import nuclei
from napari_limnet.evaluation.metrics import mean_best_dice as best_dice


vols = [("packed", packed_nuclei_volume(k), PS) for k in range(3)] + [("textured", textured_nuclei_volume(k), (1,1,1)) for k in range(3)]
s = nuclei(); vols.append(("sample", (s.image, s.truth_labels if hasattr(s,'truth_labels') else None), s.spacing))
for sigma, fill, md in itertools.product((1.0, 2.0), (False, True), (4, 6)):
    res = {}
    for name, (img, truth), sp in vols:
        if truth is None: continue
        lab, r = pseudo_objects(img, sp, sigma=sigma, fill_holes=fill, min_distance=md)
        res.setdefault(name, []).append((best_dice(lab, truth), r.isolation, r.n_objects, len(np.unique(truth))-1))
    print(sigma, fill, md, {k: (round(np.mean([a for a,_,_,_ in v]),3), round(np.mean([b for _,b,_,_ in v]),2), [ (c,d) for _,_,c,d in v]) for k, v in res.items()})
