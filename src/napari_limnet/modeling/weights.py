"""Loading and saving the three networks.

Shipped weights live in ``napari_limnet/weights/`` next to a JSON training record per module
(command, seed, data, steps). Nothing is ever downloaded. Checkpoints are plain dicts of tensors
and numbers, loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from .fusion_net import FusionNet
from .interaction_net import InteractionNet
from .propagation_net import PropagationNet

MODULE_NAMES = ("interaction", "propagation", "fusion")
_BUILDERS = {"interaction": InteractionNet, "propagation": PropagationNet, "fusion": FusionNet}


def shipped_weights_dir() -> Path:
    """Folder holding the packaged ``*.pt`` weights and their ``*.json`` training records."""
    return Path(str(resources.files("napari_limnet") / "weights"))


def build_network(name: str) -> nn.Module:
    """A freshly initialised network by module name ('interaction', 'propagation', 'fusion')."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown network {name!r}; expected one of {MODULE_NAMES}")
    return _BUILDERS[name]()


def save_checkpoint(net: nn.Module, path: str | Path, extra: dict | None = None) -> None:
    """Write ``{'state_dict': ..., **extra}`` (fp32 tensors) so that weights_only loading works."""
    state = {k: v.detach().float().cpu() if v.is_floating_point() else v.cpu() for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, **(extra or {})}, Path(path))


def load_checkpoint(net: nn.Module, path: str | Path) -> nn.Module:
    """Load weights saved by :func:`save_checkpoint` into ``net`` (safely, weights_only=True)."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    net.load_state_dict(ckpt["state_dict"])
    return net


@dataclass
class LimNetModels:
    """The three networks of LIM-Net, in eval mode on one device.

    ``trained`` is False for randomly initialised models (tests, benchmarks of cost only).
    """

    interaction: InteractionNet
    propagation: PropagationNet
    fusion: FusionNet
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    trained: bool = True
    #: inference copies of the nets (BatchNorm folded, channels_last), built once per option set
    #: by :class:`~napari_limnet.inference.runner.NetRunner`
    inference_copies: dict = field(default_factory=dict, repr=False, compare=False)
    #: provenance of weights that are not the shipped ones: ``digest`` (see
    #: :func:`napari_limnet.adaptation.models_digest`) and ``adaptation`` (what they learned from)
    info: dict = field(default_factory=dict, repr=False, compare=False)

    def copy_to(self, device) -> "LimNetModels":
        """Copies of the three networks on ``device`` (same weights, same provenance)."""
        return LimNetModels(*(copy.deepcopy(n) for n in (self.interaction, self.propagation, self.fusion)),
                            device=resolve_device(device), trained=self.trained, info=dict(self.info))

    @property
    def digest(self) -> str | None:
        """SHA-256 of adapted weights (recorded in saved sessions); None for the shipped ones."""
        return self.info.get("digest")

    def __post_init__(self):
        for net in (self.interaction, self.propagation, self.fusion):
            net.to(self.device).eval()

    @classmethod
    def load(cls, device: str | torch.device | None = None, weights_dir: str | Path | None = None) -> "LimNetModels":
        """Load the shipped weights (or those in ``weights_dir``)."""
        folder = Path(weights_dir) if weights_dir is not None else shipped_weights_dir()
        nets = {}
        for name in MODULE_NAMES:
            path = folder / f"{name}.pt"
            if not path.is_file():
                raise FileNotFoundError(
                    f"LIM-Net weights {path} are missing. Reinstall napari-limnet, or train them with "
                    f"`python -m napari_limnet.training.train_{name}`."
                )
            nets[name] = load_checkpoint(build_network(name), path)
        return cls(**nets, device=resolve_device(device), trained=True)

    @classmethod
    def random(cls, seed: int = 0, device: str | torch.device | None = None) -> "LimNetModels":
        """Randomly initialised networks (deterministic for a seed). They segment nothing useful."""
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            nets = {name: build_network(name) for name in MODULE_NAMES}
        finally:
            torch.random.set_rng_state(gen_state)
        return cls(**nets, device=resolve_device(device), trained=False)


_MODEL_CACHE: dict[str, "LimNetModels"] = {}
_MODEL_LOCK = threading.Lock()


def shipped_models(device=None) -> "LimNetModels":
    """The packaged, trained models on ``device`` (loaded once per device and shared)."""
    dev = resolve_device(device)
    with _MODEL_LOCK:
        if str(dev) not in _MODEL_CACHE:
            _MODEL_CACHE[str(dev)] = LimNetModels.load(dev)
        return _MODEL_CACHE[str(dev)]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'cpu' by default; 'cuda'/'mps' only when available, else a clear ValueError."""
    if device is None:
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is available; use device='cpu'.")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError("device='mps' was asked for but Apple MPS is not available; use device='cpu'.")
    return dev


def available_devices() -> list[str]:
    """Devices this machine can run on, CPU first."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        out.append("mps")
    return out


def check_device(device: str | torch.device) -> str | None:
    """None when ``device`` runs a tiny forward pass of a LIM-Net network, else why it does not.

    Used to offer only devices that really work (a driver mismatch or a broken install shows up
    here, at selection time, not at the first click).
    """
    try:
        dev = resolve_device(device)
        net = build_network("interaction").to(dev).eval()
        with torch.inference_mode():
            out = net(torch.zeros(1, 4, 32, 32, device=dev))
        if not torch.isfinite(out).all().item():
            return f"{device}: the test pass gave non-finite values"
        return None
    except Exception as err:  # noqa: BLE001 - any failure means: do not offer this device
        return f"{device}: {type(err).__name__}: {err}"
