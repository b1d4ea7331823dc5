"""pseudo_objects on a 300 x 512 x 512 stack of 800 blobs: numpy's traced peak above the volume, and the time."""
import time, resource, numpy as np
from scipy import ndimage
rng = np.random.default_rng(0)
vol = np.zeros((300, 512, 512), np.float32)
zz, yy, xx = [rng.integers(5, s - 5, 800) for s in vol.shape]
vol[zz, yy, xx] = 1.0
vol = ndimage.gaussian_filter(vol, (2, 4, 4), output=np.float32)
vol = (vol > vol.max() * 0.05).astype(np.float32) * 1000 + rng.normal(0, 50, vol.shape).astype(np.float32)
import tracemalloc
from napari_limnet.adaptation import pseudo_objects
tracemalloc.start()
t = time.perf_counter()
lab, r = pseudo_objects(vol, (1.0, 0.5, 0.5))
cur, peak = tracemalloc.get_traced_memory()
print(f"volume {vol.nbytes/2**20:.0f} MB; traced peak above it {peak/2**20:.0f} MB (labels kept {lab.nbytes/2**20:.0f} MB); {time.perf_counter()-t:.0f} s; {r.text()}")
