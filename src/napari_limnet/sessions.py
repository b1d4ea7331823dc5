"""Saved annotation sessions: each object's clicks, the settings and the weights, as small JSON.

A session file (``*.limnet.json``) lets anyone reproduce a set of committed objects exactly,
headless, on the same image: ``napari-limnet replay SESSION.json IMAGE --out LABELS`` (or
many at once with ``napari-limnet batch``). It records, per object, the rounds in the order they
ran -- each round is the slice and *all* clicks on it at that time, exactly as
:meth:`LimNetController.interact` received them -- plus the controller settings and a SHA-256 of
each shipped weights file. The controller is deterministic, so the same image, weights and
settings give the same mask, voxel for voxel.

Objects that were refined from an earlier mask (:meth:`AnnotationSession.edit_object`) start
from that mask, which is not a click: they are saved with ``"base": "committed mask"`` and are
replayed only where the base labels are given (``base_labels``), else skipped with a message.

Format (version 1)::

    {"format": "napari-limnet-session", "version": 1,
     "image": {"name": ..., "path": ..., "shape": [Z, Y, X], "spacing": [dz, dy, dx]},
     "weights": {"interaction": "<sha256>", ...}, "settings": {...},
     "objects": [{"id": 1, "base": null, "rounds": [{"z": 17, "positive": [[y, x]], "negative": []}]}]}
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "napari-limnet-session"
VERSION = 1
SUFFIX = ".limnet.json"


def session_path_for(labels_path: str | Path) -> Path:
    """The session file written next to exported labels: labels.nii.gz -> labels.limnet.json."""
    from .io.files import split_volume_suffix

    p = Path(labels_path)
    return p.with_name(split_volume_suffix(p.name)[0] + SUFFIX)


def weights_digest(folder: str | Path | None = None) -> dict[str, str]:
    """SHA-256 of each weights file (shipped ones by default)."""
    from .modeling.weights import MODULE_NAMES, shipped_weights_dir

    folder = Path(folder) if folder is not None else shipped_weights_dir()
    return {m: hashlib.sha256((folder / f"{m}.pt").read_bytes()).hexdigest() for m in MODULE_NAMES}


def controller_settings(ctrl) -> dict:
    """The settings that change a controller's masks, as JSON-friendly values."""
    from dataclasses import asdict

    return {
        "stop_when_empty": bool(ctrl.stop_when_empty),
        "max_slices": ctrl.max_slices,
        "z_limits": list(ctrl.z_limits) if ctrl.z_limits is not None else None,
        "precision": ctrl._runner.precision_requested,
        "fusion": ctrl.fusion.mode,
        "stopping": asdict(ctrl.stopping),
    }


def apply_settings(ctrl, settings: dict) -> None:
    """Set a controller to the recorded settings (see :func:`controller_settings`)."""
    from dataclasses import replace

    from .inference.fusion import FusionConfig
    from .inference.stopping import LeakCutRule, StoppingConfig, ValleyRule

    ctrl.stop_when_empty = bool(settings.get("stop_when_empty", True))
    ctrl.max_slices = settings.get("max_slices")
    zl = settings.get("z_limits")
    ctrl.z_limits = tuple(zl) if zl is not None else None
    ctrl.fusion = FusionConfig(mode=settings.get("fusion", "mrf"))
    st = settings.get("stopping")
    if st:
        valley = ValleyRule(**st["valley"]) if st.get("valley") else None
        cut = st.get("leak_cut")
        leak = None
        if cut:
            leak = LeakCutRule(**{**cut, "valley": ValleyRule(**cut["valley"]) if cut.get("valley") else None})
        ctrl.stopping = replace(StoppingConfig(), **{**st, "valley": valley, "leak_cut": leak})


@dataclass
class ObjectRecord:
    """One committed object: its id and the rounds that made it."""

    id: int
    rounds: list[dict]
    base: str | None = None  # "committed mask" when it was refined from an earlier mask
    overwrite: bool = False  # the commit replaced other objects' voxels
    settings: dict | None = None  # the controller settings its rounds ran with (None = the session's)

    def to_json(self) -> dict:
        return {"id": self.id, "base": self.base, "overwrite": self.overwrite, "settings": self.settings,
                "rounds": self.rounds}


@dataclass
class SessionRecord:
    """What a session file holds (see the module docstring)."""

    image: dict
    settings: dict
    objects: list[ObjectRecord] = field(default_factory=list)
    weights: dict = field(default_factory=weights_digest)

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "image": self.image, "weights": self.weights,
                "settings": self.settings, "objects": [o.to_json() for o in self.objects]}

    def save(self, path: str | Path) -> Path:
        """Write atomically (a temporary file, then a rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SessionRecord":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read session {path.name}: {err}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path.name} is not a napari-limnet session file")
        if data.get("version") != VERSION:
            raise ValueError(f"{path.name} is session format version {data.get('version')}; this napari-limnet reads {VERSION}")
        objects = [ObjectRecord(int(o["id"]), list(o["rounds"]), o.get("base"), bool(o.get("overwrite", False)),
                                o.get("settings")) for o in data.get("objects", [])]
        return cls(dict(data["image"]), dict(data.get("settings", {})), objects, dict(data.get("weights", {})))


def object_record(ctrl, object_id: int) -> ObjectRecord:
    """The record of the controller's current object, to be committed as ``object_id``."""
    rounds = [{"z": int(z), "positive": pos, "negative": neg} for z, pos, neg in ctrl.rounds()]
    return ObjectRecord(int(object_id), rounds, "committed mask" if ctrl.started_from_mask else None,
                        settings=controller_settings(ctrl))


@dataclass
class ReplayResult:
    labels: np.ndarray  # (Z, Y, X) uint16
    timings: list[dict]  # per object: id, rounds, seconds, voxels (or skipped)
    warnings: list[str]


def replay(record: SessionRecord, volume, spacing=None, device=None, base_labels=None, models=None) -> ReplayResult:
    """Re-run every object's rounds on ``volume``; labels as the commits wrote them.

    Objects are written in the order of their last commit, each where no other object is (unless
    its commit overwrote others), as the session's commits did.

    ``spacing`` defaults to the recorded one. Raises ValueError when the volume's shape differs
    from the recorded image's.
    """
    from .controller import LimNetController

    shape = tuple(np.shape(volume))
    if list(shape) != list(record.image.get("shape", shape)):
        raise ValueError(f"the session was recorded on an image of shape {tuple(record.image['shape'])}, this one is {shape}")
    spacing = tuple(spacing) if spacing is not None else tuple(record.image.get("spacing", (1.0, 1.0, 1.0)))
    warnings = []
    if models is None:
        current = weights_digest()
        changed = [m for m, h in record.weights.items() if current.get(m) != h]
        if changed:
            warnings.append(f"the weights differ from the session's ({', '.join(changed)}): masks may differ")
    labels = np.zeros(shape, dtype=np.uint16)
    ctrl = LimNetController(volume, spacing=spacing, device=device, models=models)
    apply_settings(ctrl, record.settings)
    timings = []
    for obj in record.objects:
        ctrl.reset()
        apply_settings(ctrl, obj.settings or record.settings)
        if obj.base is not None:
            if base_labels is None:
                warnings.append(f"object {obj.id} was refined from an earlier mask: give the base labels to replay it")
                timings.append({"id": obj.id, "skipped": True})
                continue
            ctrl.load_mask(np.asarray(base_labels) == obj.id)
        t0 = time.perf_counter()
        for r in obj.rounds:
            ctrl.interact(int(r["z"]), [tuple(p) for p in r["positive"]], [tuple(p) for p in r["negative"]])
        mask = np.asarray(ctrl.mask, dtype=bool)
        labels[labels == obj.id] = 0
        free = (labels == 0) | obj.overwrite
        labels[mask & free] = obj.id
        timings.append({"id": obj.id, "rounds": len(obj.rounds), "seconds": time.perf_counter() - t0,
                        "voxels": int((labels == obj.id).sum())})
    return ReplayResult(labels, timings, warnings)
