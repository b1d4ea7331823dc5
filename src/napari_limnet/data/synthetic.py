"""Domain-randomised synthetic 3D volumes (SynthSeg-style), generated in batches with torch.

Each volume is built in four steps (docs/design.md, section 5):

1. **Label map.** Background "tissues" (argmax of smooth random fields) and, on top, objects
   of several families: warped ellipsoids, lobulated blobs, tubes/vessels, thin curved sheets.
   Objects are placed freely, inside another object (a lesion in an organ, or a shell around
   one), touching a neighbour in-plane, or touching the primary object above/below in z.
   Sizes run from tiny (~2 px radius) to most of the slice. Objects may carry internal
   sub-regions of different intensity (composite objects such as a whole brain).
2. **Intensities.** Random mean and spread per intensity class, texture, blur, bias field,
   gamma, contrast inversion, Gaussian or Rician noise, partial volume across thick slices,
   then MRI-like uint8 / microscopy-like uint16 / CT-like Hounsfield int16 / float ranges.
   Distractors get an intensity close to the target's.
3. **Target.** Mostly the primary object, otherwise another object or a union of touching
   neighbours.
4. Clicks are simulated by the training loops (see :mod:`napari_limnet.training.click_simulation`).

Geometry: coordinates are in in-plane pixel units; ``z_scale`` (1-8) is the slice thickness
in the same units, so anisotropic volumes have objects that span fewer slices.

Everything is seeded through a ``torch.Generator``; the same seed, shape and device give the
same volumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

OBJECT_FAMILIES = ("ellipsoid", "blob", "tube", "sheet")
DTYPE_MODES = ("float", "mri_uint8", "microscopy_uint16", "ct_hu")


@dataclass
class SyntheticVolumes:
    """A batch of generated volumes.

    image: (B, D, H, W) float32 raw intensities (in the range of ``dtype_mode``);
    labels: (B, D, H, W) int64 label map (tissues 1..L, objects L+1..);
    target: (B, D, H, W) bool mask of the object to segment;
    z_scale: slice thickness in in-plane pixel units; dtype_mode: one of DTYPE_MODES.
    """

    image: torch.Tensor
    labels: torch.Tensor
    target: torch.Tensor
    z_scale: float
    dtype_mode: str


@dataclass(frozen=True)
class SyntheticConfig:
    """Ranges of the random choices (uniform unless stated)."""

    n_tissues: tuple[int, int] = (2, 6)
    n_objects: tuple[int, int] = (3, 8)
    radius: tuple[float, float] = (2.5, 0.42)  # min in pixels, max as a fraction of H (log-uniform)
    anisotropic_p: float = 0.35
    z_scale: tuple[float, float] = (1.5, 8.0)
    family_p: tuple[float, ...] = (0.35, 0.3, 0.2, 0.15)
    composite_p: float = 0.3
    invert_p: float = 0.25
    rician_p: float = 0.3
    #: Share of volumes whose classes get their own strong, fine internal texture (chromatin in a
    #: nucleus, trabecular bone, a heterogeneous tumour): per class a multiplicative field of 3-8
    #: pixel grain and up to OBJECT_TEXTURE_MAX relative amplitude. 0 = off (the shipped training
    #: distribution; the random stream, and so every seeded volume, is then unchanged).
    object_texture_p: float = 0.0


#: Largest relative amplitude (standard deviation) of the per-class texture of ``object_texture_p``.
OBJECT_TEXTURE_MAX = 0.5


def _rand(gen, *shape, device, low=0.0, high=1.0):
    return torch.rand(*shape, generator=gen, device=device) * (high - low) + low


def _randint(gen, low, high, device) -> int:
    """Inclusive integer in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=gen, device=device).item())


def _choice(gen, probs, device) -> int:
    p = torch.tensor(probs, dtype=torch.float32, device=device)
    return int(torch.multinomial(p / p.sum(), 1, generator=gen).item())


def smooth_noise(gen, batch: int, shape: tuple[int, int, int], cells: tuple[int, int, int], device) -> torch.Tensor:
    """Smooth random field (B, D, H, W) with roughly unit std: trilinear upsampling of a coarse grid."""
    cz, cy, cx = (max(2, int(c)) for c in cells)
    coarse = torch.randn(batch, 1, cz, cy, cx, generator=gen, device=device)
    field = F.interpolate(coarse, size=shape, mode="trilinear", align_corners=True)[:, 0]
    return field / field.flatten(1).std(dim=1).clamp_min(1e-3).view(-1, 1, 1, 1)


def random_rotations(gen, batch: int, device) -> torch.Tensor:
    """(B, 3, 3) uniformly random rotation matrices (QR of a Gaussian matrix)."""
    q, r = torch.linalg.qr(torch.randn(batch, 3, 3, generator=gen, device=device))
    q = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)
    det = torch.det(q)
    q[:, :, 0] = q[:, :, 0] * det.unsqueeze(1)
    return q


class _Grid:
    """Physical voxel-centre coordinates, broadcastable to (B, D, H, W)."""

    def __init__(self, shape, z_scale, device):
        d, h, w = shape
        self.z = ((torch.arange(d, device=device) - (d - 1) / 2) * z_scale).view(1, d, 1, 1)
        self.y = (torch.arange(h, device=device) - (h - 1) / 2).float().view(1, 1, h, 1)
        self.x = (torch.arange(w, device=device) - (w - 1) / 2).float().view(1, 1, 1, w)
        self.extent = torch.tensor([d * z_scale, h, w], device=device, dtype=torch.float32)

    def local(self, center: torch.Tensor, rot: torch.Tensor) -> list[torch.Tensor]:
        """Coordinates in an object's frame: rot^T (x - center); three (B, D, H, W) tensors."""
        c = center.view(-1, 3, 1, 1, 1)
        rel = (self.z - c[:, 0], self.y - c[:, 1], self.x - c[:, 2])
        return [sum(rot[:, i, j].view(-1, 1, 1, 1) * rel[i] for i in range(3)) for j in range(3)]


def _ellipsoid_field(grid: _Grid, center, radii, rot) -> torch.Tensor:
    p = grid.local(center, rot)
    r = radii.view(-1, 3, 1, 1, 1)
    return torch.sqrt(sum((p[i] / r[:, i]) ** 2 for i in range(3))) - 1.0


def _tube_field(gen, grid: _Grid, center, radii, rot, device) -> torch.Tensor:
    """Distance to a bent polyline, over a radius. radii[:, 0] = length/2, radii[:, 1] = tube radius."""
    b = center.shape[0]
    n = 10
    t = torch.linspace(-1, 1, n, device=device).view(1, n, 1)
    axis, perp1, perp2 = rot[:, :, 0].unsqueeze(1), rot[:, :, 1].unsqueeze(1), rot[:, :, 2].unsqueeze(1)
    length = radii[:, 0].view(b, 1, 1)
    bend = _rand(gen, b, 1, 1, device=device, low=0.0, high=0.5) * length
    freq = _rand(gen, b, 1, 1, device=device, low=0.5, high=2.5)
    phase = _rand(gen, b, 1, 1, device=device, high=6.28)
    pts = (
        center.view(b, 1, 3)
        + t * length * axis
        + bend * torch.sin(freq * t * math.pi + phase) * perp1
        + 0.5 * bend * torch.cos(freq * t * math.pi + phase) * perp2
    )  # (B, n, 3)
    coords = (grid.z, grid.y, grid.x)
    best = None
    for i in range(n - 1):
        a, seg = pts[:, i], pts[:, i + 1] - pts[:, i]
        seg_len2 = (seg * seg).sum(1).clamp_min(1e-6)
        rel = [coords[k] - a[:, k].view(b, 1, 1, 1) for k in range(3)]
        proj = (sum(rel[k] * seg[:, k].view(b, 1, 1, 1) for k in range(3)) / seg_len2.view(b, 1, 1, 1)).clamp(0, 1)
        d2 = sum((rel[k] - proj * seg[:, k].view(b, 1, 1, 1)) ** 2 for k in range(3))
        best = d2 if best is None else torch.minimum(best, d2)
    return torch.sqrt(best) / radii[:, 1].view(b, 1, 1, 1) - 1.0


def _sheet_field(gen, grid: _Grid, center, radii, rot, shape, device) -> torch.Tensor:
    """A thin curved sheet: |bent plane distance| < thickness, limited to an ellipsoid."""
    b = center.shape[0]
    p = grid.local(center, rot)
    bend = smooth_noise(gen, b, shape, (3, 3, 3), device) * radii[:, 0].view(b, 1, 1, 1) * 0.25
    thickness = _rand(gen, b, device=device, low=1.0, high=3.0).view(b, 1, 1, 1)
    sheet = (p[2] + bend).abs() / thickness - 1.0
    extent = radii.clone()
    extent[:, 2] = radii[:, 0]
    return torch.maximum(sheet, _ellipsoid_field(grid, center, extent, rot))


@dataclass
class _Placed:
    center: torch.Tensor  # (B, 3)
    radii: torch.Tensor  # (B, 3) in the object's frame
    label: int


def make_volumes(
    batch: int,
    shape: tuple[int, int, int],
    gen: torch.Generator,
    device: str | torch.device = "cpu",
    config: SyntheticConfig = SyntheticConfig(),
    z_scale: float | None = None,
) -> SyntheticVolumes:
    """Generate ``batch`` random volumes of ``shape`` = (D, H, W). See the module docstring.

    The four steps below draw from ``gen`` in a fixed order, so a seed gives the same volumes.
    """
    device = torch.device(device)
    cfg = config
    if z_scale is None:
        aniso = _rand(gen, 1, device=device).item() < cfg.anisotropic_p
        z_scale = _rand(gen, 1, device=device, low=cfg.z_scale[0], high=cfg.z_scale[1]).item() if aniso else 1.0
    grid = _Grid(shape, z_scale, device)
    labels, n_tissues = _background_tissues(gen, batch, shape, z_scale, cfg, device)  # 1. label map: tissues
    labels, intensity_class, placed, similar = _place_objects(gen, labels, n_tissues, grid, shape, cfg, device)  # and objects
    target, _ = _choose_target(gen, labels, [p.label for p in placed], device)  # 3. target
    image = _render(gen, intensity_class, shape, z_scale, placed[0].label, similar, cfg, device)  # 2. intensities
    mode = DTYPE_MODES[_randint(gen, 0, len(DTYPE_MODES) - 1, device)]
    image = _to_dtype_range(gen, image, mode, device)
    return SyntheticVolumes(image=image, labels=labels, target=target, z_scale=z_scale, dtype_mode=mode)


def _background_tissues(gen, batch, shape, z_scale, cfg: SyntheticConfig, device) -> tuple[torch.Tensor, int]:
    """Step 1a: background "tissues", the argmax of smooth random fields. Labels (B, D, H, W) 1..L, L."""
    d, h, w = shape
    zc = max(2, round(d * z_scale / 24))
    n_tissues = _randint(gen, *cfg.n_tissues, device)
    best = None
    labels = torch.ones(batch, d, h, w, dtype=torch.long, device=device)
    cells_xy = _randint(gen, 2, 6, device)
    for t in range(n_tissues):
        field = smooth_noise(gen, batch, shape, (zc, cells_xy, cells_xy), device)
        field = field + _rand(gen, batch, 1, 1, 1, device=device, low=-0.8, high=0.8)
        if best is None:
            best = field
        else:
            labels = torch.where(field > best, t + 1, labels)
            best = torch.maximum(best, field)
    return labels, n_tissues


def _object_pose(gen, k: int, placed: list, grid: _Grid, radii, rot, batch: int, device):
    """Where object k goes: (center, radii, rot, relation, is_shell). Object 0 is the primary one."""
    relation, is_shell = "free", False
    if k == 0:
        return _rand(gen, batch, 3, device=device, low=-0.18, high=0.18) * grid.extent, radii, rot, relation, is_shell
    relation = ("free", "inside", "touching", "z_touching")[_choice(gen, (0.3, 0.2, 0.25, 0.25), device)]
    ref = placed[0] if relation in ("inside", "z_touching") else placed[-1]
    if relation == "free":
        center = _rand(gen, batch, 3, device=device, low=-0.45, high=0.45) * grid.extent
    elif relation == "inside":
        scale = _rand(gen, batch, 1, device=device, low=0.15, high=0.6)
        radii = ref.radii * scale * _rand(gen, batch, 3, device=device, low=0.8, high=1.2)
        center = ref.center + (_rand(gen, batch, 3, device=device, low=-0.4, high=0.4)) * ref.radii
        if _rand(gen, 1, device=device).item() < 0.35:  # a shell around the primary object
            radii = ref.radii * _rand(gen, batch, 3, device=device, low=1.1, high=1.35)
            center = ref.center.clone()
            is_shell = True
    elif relation == "touching":
        direction = F.normalize(torch.randn(batch, 3, generator=gen, device=device), dim=1)
        reach = ref.radii.mean(1, keepdim=True) + radii.mean(1, keepdim=True)
        center = ref.center + direction * reach * 0.85
    else:  # directly above or below the primary object, touching it
        sign = torch.where(_rand(gen, batch, device=device) < 0.5, -1.0, 1.0)
        center = ref.center.clone()
        center[:, 1:] += _rand(gen, batch, 2, device=device, low=-0.3, high=0.3) * ref.radii[:, 1:]
        radii = ref.radii * _rand(gen, batch, 3, device=device, low=0.7, high=1.3)
        center[:, 0] += sign * (ref.radii.max(1).values + radii.max(1).values) * 0.8
        rot = torch.eye(3, device=device).expand(batch, 3, 3).clone()
        radii = torch.stack([ref.radii.min(1).values * 0.8, radii[:, 1], radii[:, 2]], 1)
    return center, radii, rot, relation, is_shell


def _object_field(gen, family: str, grid: _Grid, center, radii, rot, shape, device):
    """Signed field (< 0 inside) of one object of ``family``; tubes get their own radii. (field, radii)."""
    h = shape[1]
    if family == "tube":
        radii = torch.stack([radii.max(1).values * 1.5, radii.min(1).values.clamp(1.2, 0.2 * h), radii[:, 2]], 1)
        return _tube_field(gen, grid, center, radii, rot, device), radii
    if family == "sheet":
        return _sheet_field(gen, grid, center, radii, rot, shape, device), radii
    field = _ellipsoid_field(grid, center, radii, rot)
    amp = 0.12 if family == "ellipsoid" else 0.45
    cells = 3 if family == "ellipsoid" else _randint(gen, 4, 7, device)
    return field + amp * smooth_noise(gen, radii.shape[0], shape, (cells, cells, cells), device), radii


def _sub_regions(gen, labels, shape, next_class: int, device) -> tuple[torch.Tensor, int]:
    """Internal sub-regions with their own intensity classes (composite objects)."""
    batch = labels.shape[0]
    n_sub = _randint(gen, 2, 4, device)
    sub_best, sub_id = None, torch.zeros_like(labels)
    for s in range(n_sub):
        f = smooth_noise(gen, batch, shape, (3, 4, 4), device)
        if sub_best is None:
            sub_best = f
        else:
            sub_id = torch.where(f > sub_best, s, sub_id)
            sub_best = torch.maximum(sub_best, f)
    return next_class + sub_id, next_class + n_sub


def _place_objects(gen, labels, n_tissues: int, grid: _Grid, shape, cfg: SyntheticConfig, device):
    """Step 1b: objects of several families, free, inside, touching or stacked on the primary one.

    Returns (labels, intensity classes, placed objects, labels whose intensity is close to the primary's).
    """
    batch, h = labels.shape[0], shape[1]
    intensity_class = labels.clone()
    n_objects = _randint(gen, *cfg.n_objects, device)
    placed: list[_Placed] = []
    r_min, r_max = cfg.radius[0], cfg.radius[1] * h
    next_class = 64
    similar_to_primary: list[int] = []
    for k in range(n_objects):
        label = n_tissues + 1 + k
        family = OBJECT_FAMILIES[_choice(gen, cfg.family_p, device)]
        log_r = _rand(gen, batch, device=device, low=math.log(r_min), high=math.log(r_max))
        radii = torch.exp(log_r).unsqueeze(1) * _rand(gen, batch, 3, device=device, low=0.55, high=1.5)
        rot = random_rotations(gen, batch, device)
        center, radii, rot, relation, is_shell = _object_pose(gen, k, placed, grid, radii, rot, batch, device)
        field, radii = _object_field(gen, family, grid, center, radii, rot, shape, device)
        inside = field < 0
        if is_shell:  # keep the primary object where it already is
            inside = inside & (labels != placed[0].label)
        labels = torch.where(inside, label, labels)
        cls = torch.full_like(labels, label)
        if _rand(gen, 1, device=device).item() < cfg.composite_p:
            cls, next_class = _sub_regions(gen, labels, shape, next_class, device)
        intensity_class = torch.where(inside, cls, intensity_class)
        if k > 0 and relation in ("touching", "z_touching") and _rand(gen, 1, device=device).item() < 0.7:
            similar_to_primary.append(label)
        placed.append(_Placed(center, radii, label))
    return labels, intensity_class, placed, similar_to_primary


def _choose_target(gen, labels: torch.Tensor, object_labels: list[int], device):
    """Per sample: the primary object (60%), another present object (25%) or primary + neighbour (15%)."""
    b = labels.shape[0]
    n_lab = max(int(labels.max().item()), max(object_labels)) + 1
    counts = torch.zeros(b, n_lab, device=device, dtype=torch.long)
    counts.scatter_add_(1, labels.flatten(1), torch.ones_like(labels.flatten(1)))
    obj = torch.tensor(object_labels, device=device)
    obj_counts = counts[:, obj]  # (B, K)
    present = obj_counts >= 40
    primary = obj[0].expand(b).clone()
    # fall back to the largest object where the primary got overwritten
    primary = torch.where(present[:, 0], primary, obj[obj_counts.argmax(1)])
    u = _rand(gen, b, device=device)
    pick_other = (u > 0.6) & (u <= 0.85)
    weights = present.float()
    weights[:, 0] = 0
    has_other = weights.sum(1) > 0
    other = obj[torch.multinomial(weights + (~has_other).float().unsqueeze(1), 1, generator=gen).squeeze(1)]
    chosen = torch.where(pick_other & has_other, other, primary)
    target = labels == chosen.view(b, 1, 1, 1)
    composite = (u > 0.85) & has_other
    if composite.any():
        # union with the object that touches it most
        dil = F.max_pool3d(target.float().unsqueeze(1), 3, 1, 1)[:, 0] > 0
        ring = dil & ~target
        ring_counts = torch.zeros(b, n_lab, device=device, dtype=torch.long)
        ring_counts.scatter_add_(1, (labels * ring).flatten(1), ring.flatten(1).long())
        ring_obj = ring_counts[:, obj]
        neighbour = obj[ring_obj.argmax(1)]
        ok = composite & (ring_obj.max(1).values > 0)
        target = target | ((labels == neighbour.view(b, 1, 1, 1)) & ok.view(b, 1, 1, 1))
    return target, chosen


def _render(gen, cls: torch.Tensor, shape, z_scale, primary_label, similar, cfg: SyntheticConfig, device):
    b = cls.shape[0]
    n_cls = max([int(cls.max().item()), primary_label, *similar]) + 1
    mean = _rand(gen, b, n_cls, device=device)
    spread = _rand(gen, b, n_cls, device=device, high=0.08)
    for lab in similar:
        delta = _rand(gen, b, device=device, low=0.02, high=0.15) * torch.where(
            _rand(gen, b, device=device) < 0.5, -1.0, 1.0
        )
        mean[:, lab] = (mean[:, primary_label] + delta).clamp(0, 1)
    flat = cls.flatten(1)
    img = torch.gather(mean, 1, flat).view_as(cls).float()
    noise_sd = torch.gather(spread, 1, flat).view_as(cls)
    img = img + noise_sd * torch.randn(cls.shape, generator=gen, device=device)
    d, h, w = shape
    tex_cells = _randint(gen, 6, 24, device)
    tex = _rand(gen, b, 1, 1, 1, device=device, high=0.25)
    img = img * (1 + tex * smooth_noise(gen, b, shape, (max(2, d // 3), tex_cells, tex_cells), device))
    if cfg.object_texture_p > 0:
        img = class_texture(gen, img, flat, n_cls, cfg.object_texture_p)
    sigma = _rand(gen, 1, device=device, high=1.4).item()
    if sigma > 0.3:
        img = _blur_inplane(img, sigma)
    bias = _rand(gen, b, 1, 1, 1, device=device, high=0.5)
    img = img * torch.exp(bias * smooth_noise(gen, b, shape, (2, 3, 3), device))
    lo = img.flatten(1).amin(1).view(b, 1, 1, 1)
    hi = img.flatten(1).amax(1).view(b, 1, 1, 1)
    img = (img - lo) / (hi - lo).clamp_min(1e-6)
    gamma = torch.exp(torch.randn(b, 1, 1, 1, generator=gen, device=device) * 0.3)
    img = img.clamp_min(0) ** gamma
    invert = _rand(gen, b, 1, 1, 1, device=device) < cfg.invert_p
    img = torch.where(invert, 1 - img, img)
    if z_scale > 1.5:
        wgt = _rand(gen, 1, device=device, high=0.25).item()
        img = (1 - 2 * wgt) * img + wgt * (torch.roll(img, 1, 1) + torch.roll(img, -1, 1))
    noise = _rand(gen, b, 1, 1, 1, device=device, low=0.003, high=0.07)
    if _rand(gen, 1, device=device).item() < cfg.rician_p:
        n1 = torch.randn(img.shape, generator=gen, device=device) * noise
        n2 = torch.randn(img.shape, generator=gen, device=device) * noise
        img = torch.sqrt((img + n1) ** 2 + n2**2)
    else:
        img = img + torch.randn(img.shape, generator=gen, device=device) * noise
    return img


def class_texture(gen, img: torch.Tensor, flat_cls: torch.Tensor, n_cls: int, share: float) -> torch.Tensor:
    """Multiply each class of ``share`` of the volumes by its own fine texture (see SyntheticConfig).

    img: (B, D, H, W) intensities; flat_cls: (B, D*H*W) class (label) index per voxel, < n_cls.
    Also used on real canvases (``RealVolumes(object_texture=...)``), with their label maps.
    """
    b, d, h, w = img.shape
    device = img.device
    grain = _rand(gen, 1, device=device, low=3.0, high=8.0).item()  # pixels per texture cell
    field = smooth_noise(gen, b, (d, h, w), (max(2, d // 2), h / grain, w / grain), device)
    on = (_rand(gen, b, 1, device=device) < share).float()
    amp = _rand(gen, b, n_cls, device=device, high=OBJECT_TEXTURE_MAX) * on
    amp_at = torch.gather(amp, 1, flat_cls).view_as(img)
    return img * (1 + amp_at * field).clamp_min(0.1)


def _blur_inplane(img: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(2.5 * sigma)))
    x = torch.arange(-radius, radius + 1, device=img.device, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    k = k / k.sum()
    b, d, h, w = img.shape
    flat = img.reshape(b * d, 1, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1))
    return flat.view(b, d, h, w)


def _to_dtype_range(gen, img: torch.Tensor, mode: str, device) -> torch.Tensor:
    """Map [0, 1]-ish intensities to the range and quantisation of a scanner / camera."""
    if mode == "mri_uint8":
        return torch.round(img.clamp(0, 1) * 255)
    if mode == "microscopy_uint16":
        peak = _rand(gen, 1, device=device, low=300.0, high=60000.0).item()
        offset = _rand(gen, 1, device=device, low=0.0, high=500.0).item()
        return torch.round(img.clamp_min(0) * peak + offset)
    if mode == "ct_hu":
        span = _rand(gen, 1, device=device, low=80.0, high=2500.0).item()
        low = _rand(gen, 1, device=device, low=-1100.0, high=200.0).item()
        return torch.round(img * span + low)
    return img * _rand(gen, 1, device=device, low=0.1, high=10.0).item()
