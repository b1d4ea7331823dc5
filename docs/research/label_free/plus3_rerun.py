"""nuclei3d: label-free (given size rule) then +3 committed objects, robot on the scored objects (isolated rerun)."""
import sys, json, time
import numpy as np
sys.path.insert(0, "benchmarks")
from adaptation import dev_volumes
from label_free import robot_curves, pooled, collapsed
from napari_limnet.adaptation import adapt, learn_label_free
rule = sys.argv[1]
vol = [v for v in dev_volumes() if v.name == "nuclei3d"][0]
t = time.time()
lf, rep, pseudo = learn_label_free(vol.image, vol.spacing, seconds=180.0, seed=0, time_limit=1440.0, size_rule=rule)
print("lf", rule, round(time.time() - t), lf.info["adaptation"]["steps"], lf.info["adaptation"]["time_limited"], flush=True)
first = vol.ids[:3]
labels_k = np.where(np.isin(vol.labels, first), vol.labels, 0)
t = time.time()
plus = adapt(vol.image, labels_k, vol.spacing, seconds=60.0, seed=0, base=lf, time_limit=480.0)
print("plus", round(time.time() - t), plus.info["adaptation"]["steps"], plus.info["adaptation"]["time_limited"], flush=True)
scored = vol.ids[3:]
c = robot_curves(plus, vol, scored, [1, 2, 3, 4], 2)
print(rule, "+3 after 3:", pooled(c, scored), "collapsed", collapsed(c, scored), flush=True)
