"""The pseudo-object verdict on synthetic nuclei, the bundled samples and the training volumes (CT/MR in
../shared/data/train; pass a fetched brain folder as the argument for the brain MRI). Never the dev set."""
import os, time, json, numpy as np, sys
RULE = os.environ.get("SIZE_RULE", "percentiles")  # pseudo_objects(size_rule=...)
from napari_limnet.adaptation.pseudo_labels import pseudo_objects
from napari_limnet.evaluation.packed_nuclei import packed_nuclei_volume, SPACING as PS
from napari_limnet.evaluation.textured_nuclei import textured_nuclei_volume
from napari_limnet.data.samples import nuclei, ct_abdomen, mri_head
from napari_limnet.data.real_volumes import load_nifti_volumes
def show(name, img, sp):
    t=time.perf_counter(); lab, r = pseudo_objects(img, sp, size_rule=RULE); dt=time.perf_counter()-t
    print(f"{name:28s} {img.shape} n={r.n_objects:4d}/{r.n_candidates:4d} sep={r.separability:.2f} fg={r.foreground_fraction:.2f} iso={r.isolation:.2f} elong={r.elongation:.1f} {'OK ' if r.suitable else 'NO '} {dt:.1f}s")
for k in range(3):
    img, lab = packed_nuclei_volume(k); show(f"packed_nuclei_{k}", img, PS)
for k in range(3):
    img, lab = textured_nuclei_volume(k); show(f"textured_nuclei_{k}", img, (1,1,1))
s = nuclei(); show("sample nuclei", s.image, s.spacing)
s = ct_abdomen(); show("sample ct", s.image, s.spacing)
s = mri_head(); show("sample mri", s.image, s.spacing)
for v in load_nifti_volumes(sys.argv[1] if len(sys.argv) > 1 else None):
    show(v.name, v.image, v.spacing)
