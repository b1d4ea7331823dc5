"""Benchmark with horizontal-flip TTA of the 2D prompt; mode 'loop' keeps the multi-scale search un-augmented."""
import sys, torch
from napari_limnet.inference import runner as R
import napari_limnet.inference.prompt as P
mode = sys.argv[1]
orig = R.NetRunner.interaction
ON = [True]
def tta(self, x):
    if not ON[0]:
        return orig(self, x)
    n = x.shape[0]
    out = orig(self, torch.cat([x, x.flip(-1)]))
    return (out[:n] + out[n:].flip(-1)) / 2
R.NetRunner.interaction = tta
if mode == "loop":
    _fs = P._first_scale
    def fs(*a, **k):
        ON[0] = False
        try:
            return _fs(*a, **k)
        finally:
            ON[0] = True
    P._first_scale = fs
from napari_limnet.benchmark import main
main(sys.argv[2:])
