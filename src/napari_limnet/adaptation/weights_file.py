"""Adapted weights as one shareable file (``*.limnet.pt``), validated on load.

Format: a ``torch.save`` dict (tensors, strings and numbers only, so ``weights_only=True``
loading works)::

    {"format": "napari-limnet-adapted-weights", "version": 1,
     "interaction": {name: tensor}, "propagation": {...}, "fusion": {...},
     "meta": "<JSON text: what the adaptation ran on, recipe, seed, seconds, report>"}

Files users share are untrusted: loading checks the format, that every tensor matches the
network's own names, shapes and dtypes, and that all values are finite, before anything is used.

The *digest* of a set of networks is a SHA-256 over their tensors (names, dtypes, shapes and
bytes, in a fixed order), not over the file's bytes, so the same weights have the same digest
however they were saved; sessions record it per round.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..modeling.weights import MODULE_NAMES, LimNetModels, build_network, resolve_device

FORMAT = "napari-limnet-adapted-weights"
VERSION = 1
SUFFIX = ".limnet.pt"


def _state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().float().cpu() if v.is_floating_point() else v.detach().cpu() for k, v in net.state_dict().items()}


def models_digest(models: LimNetModels) -> str:
    """SHA-256 (hex) of the three networks' tensors."""
    h = hashlib.sha256()
    for name in MODULE_NAMES:
        for key, t in sorted(_state(getattr(models, name)).items()):
            h.update(f"{name}.{key}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def save_adapted(models: LimNetModels, path: str | Path, meta: dict | None = None) -> Path:
    """Write ``models`` (and JSON-able ``meta``) to ``path`` atomically; returns the path."""
    from ..io.files import atomic_write

    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, "meta": json.dumps(meta or models.info.get("adaptation", {}))}
    for name in MODULE_NAMES:
        payload[name] = _state(getattr(models, name))
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return path


def load_adapted(path: str | Path, device=None) -> LimNetModels:
    """Load and validate a file written by :func:`save_adapted`. ValueError names what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"adapted weights {path} are missing")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any unpickling failure (a crafted pickle too): not our file
        # one sentence: torch's own message (a multi-line weights_only hint) means nothing to a user
        raise ValueError(f"{path.name} is not a napari-limnet weights file: it holds something other than "
                         "plain tensors and numbers, so it was not loaded.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path.name} is not a napari-limnet adapted-weights file")
    if data.get("version") != VERSION:
        raise ValueError(f"{path.name} is adapted-weights version {data.get('version')}; this napari-limnet reads {VERSION}")
    nets = {}
    for name in MODULE_NAMES:
        net = build_network(name)
        expected = net.state_dict()
        got = data.get(name)
        if not isinstance(got, dict) or set(got) != set(expected):
            raise ValueError(f"{path.name}: the {name} weights do not match this napari-limnet's network")
        for key, ref in expected.items():
            t = got[key]
            if not isinstance(t, torch.Tensor) or t.shape != ref.shape or t.dtype != ref.dtype:
                raise ValueError(f"{path.name}: {name}.{key} has the wrong shape or type")
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise ValueError(f"{path.name}: {name}.{key} holds non-finite values")
        net.load_state_dict(got)
        nets[name] = net
    try:
        meta = json.loads(data.get("meta") or "{}")
    except (TypeError, ValueError):
        raise ValueError(f"{path.name}: its description is not valid JSON") from None
    models = LimNetModels(**nets, device=resolve_device(device), trained=True)
    models.info.update({"adaptation": meta if isinstance(meta, dict) else {}, "digest": models_digest(models)})
    return models
