"""Benchmark with flip test-time augmentation of the 2D prompt (experiment)."""
import sys, torch
from napari_limnet.inference import runner as R
mode = sys.argv[1]
orig = R.NetRunner.interaction
def tta(self, x):
    if mode == "hflip":
        xs = torch.cat([x, x.flip(-1)])
        out = orig(self, xs)
        n = x.shape[0]
        return (out[:n] + out[n:].flip(-1)) / 2
    if mode == "hvflip":
        xs = torch.cat([x, x.flip(-1), x.flip(-2), x.flip(-1).flip(-2)])
        out = orig(self, xs)
        n = x.shape[0]
        return (out[:n] + out[n:2*n].flip(-1) + out[2*n:3*n].flip(-2) + out[3*n:].flip(-1).flip(-2)) / 4
    return orig(self, x)
R.NetRunner.interaction = tta
from napari_limnet.benchmark import main
main(sys.argv[2:])
