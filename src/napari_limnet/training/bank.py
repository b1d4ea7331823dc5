"""A device-resident bank of training volumes, refreshed a part at a time.

Generating a batch of synthetic volumes costs thousands of small kernel launches, several times
the learning step itself (docs/research/training/profile.md). The bank generates volumes in large batches
*now and then* and serves every step from memory:

- ``refresh()`` replaces ``refresh_batch`` random entries with new volumes, synthetic or (with
  probability ``real_fraction`` per refresh) real structures from :mod:`.real_data`;
- ``draw(n)`` returns ``n`` random entries with cheap augmentation (a random flip/transpose of
  the plane, reversed z, a random intensity gamma), as a
  :class:`~napari_limnet.data.synthetic.SyntheticVolumes` batch.

With a refresh every ``k`` steps, each volume is seen about ``k * n / refresh_batch`` times,
each time differently augmented. Storage: image float32, target bool, labels int16;
``size x D x H x W x 7`` bytes (1024 x 6 x 160^2 is 1.1 GB).
"""

from __future__ import annotations

import torch

from ..data.synthetic import SyntheticConfig, SyntheticVolumes, make_volumes


class VolumeBank:
    """``size`` volumes of ``shape`` = (D, H, W) on ``device``; see the module docstring."""

    def __init__(
        self,
        size: int,
        shape: tuple[int, int, int],
        device,
        gen: torch.Generator,
        refresh_batch: int = 128,
        real=None,
        real_fraction: float = 0.0,
        config: SyntheticConfig = SyntheticConfig(),
    ):
        if size < refresh_batch:
            raise ValueError(f"bank size {size} is smaller than one refresh batch {refresh_batch}")
        if real_fraction > 0 and real is None:
            raise ValueError("real_fraction > 0 needs real volumes")
        self.size, self.shape, self.device = size, tuple(shape), torch.device(device)
        self.gen, self.refresh_batch, self.real, self.real_fraction, self.config = gen, refresh_batch, real, real_fraction, config
        self.host_gen = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device).item()))
        d, h, w = self.shape
        self.image = torch.zeros(size, d, h, w, device=self.device)
        self.labels = torch.zeros(size, d, h, w, device=self.device, dtype=torch.int16)
        self.target = torch.zeros(size, d, h, w, device=self.device, dtype=torch.bool)
        self.is_real = torch.zeros(size, dtype=torch.bool)
        self.generated = {"synthetic": 0, "real": 0}
        for start in range(0, size, refresh_batch):
            self._put(torch.arange(start, min(size, start + refresh_batch)))

    def _new_volumes(self, n: int) -> tuple[SyntheticVolumes, bool]:
        use_real = self.real is not None and float(torch.rand(1, generator=self.host_gen)) < self.real_fraction
        if use_real:
            vols = self.real.sample(n, self.shape, self.host_gen)
        else:
            vols = make_volumes(n, self.shape, self.gen, self.device, self.config)
        self.generated["real" if use_real else "synthetic"] += n
        return vols, use_real

    def _put(self, idx: torch.Tensor) -> None:
        vols, real = self._new_volumes(len(idx))
        dev_idx = idx.to(self.device)
        self.image[dev_idx] = vols.image.float()
        self.labels[dev_idx] = vols.labels.to(torch.int16)
        self.target[dev_idx] = vols.target
        self.is_real[idx] = real

    def refresh(self) -> None:
        """Replace ``refresh_batch`` random entries with newly generated volumes."""
        self._put(torch.randperm(self.size, generator=self.host_gen)[: self.refresh_batch])

    @property
    def real_share(self) -> float:
        """Fraction of the bank's entries that are real structures now."""
        return float(self.is_real.float().mean())

    def draw(self, n: int, reverse_z: bool = True) -> SyntheticVolumes:
        """``n`` random entries (with replacement), augmented; labels as int64."""
        idx = torch.randint(0, self.size, (n,), generator=self.gen, device=self.device)  # no host-to-device copy
        image, labels, target = self.image[idx], self.labels[idx].long(), self.target[idx]
        flips = torch.rand(4, generator=self.host_gen).tolist()
        dims = [d for d, f in zip((-2, -1), flips[:2]) if f < 0.5]
        if reverse_z and flips[2] < 0.5:
            dims.append(1)
        if dims:
            image, labels, target = (t.flip(dims) for t in (image, labels, target))
        if flips[3] < 0.5:
            image, labels, target = (t.transpose(-1, -2) for t in (image, labels, target))
        image = _random_gamma(image, self.gen)
        return SyntheticVolumes(image=image.contiguous(), labels=labels.contiguous(), target=target.contiguous(),
                                z_scale=1.0, dtype_mode="bank")


def _random_gamma(image: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Per volume, with probability p: min-max normalise and apply a random gamma in [0.6, 1.6].

    ``gen`` is a generator on the image's device (no host-to-device copies in a step).
    """
    b = image.shape[0]
    dev = image.device
    apply = (torch.rand(b, generator=gen, device=dev) < p).view(b, 1, 1, 1)
    gamma = torch.exp((torch.rand(b, generator=gen, device=dev) - 0.5) * 1.0).view(b, 1, 1, 1)
    flat = image.flatten(1)
    lo = flat.amin(1).view(b, 1, 1, 1)
    hi = flat.amax(1).view(b, 1, 1, 1)
    norm = ((image - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1) ** gamma
    return torch.where(apply, norm, image)
