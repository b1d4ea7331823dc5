"""Saved annotation sessions: each object's rounds, the settings and the weights, as small JSON.

A session file (``*.limnet.json``) lets anyone reproduce a set of committed objects exactly,
headless, on the same image: ``napari-limnet replay SESSION.json IMAGE --out LABELS`` (or
many at once with ``napari-limnet batch``). It records, per object, the rounds in the order they
ran -- each round is the slice and *all* clicks on it at that time, exactly as
:meth:`LimNetController.interact` received them -- plus the controller settings and a SHA-256 of
each shipped weights file. The controller is deterministic, so the same image, weights and
settings give the same mask, voxel for voxel.

- Rounds made with networks adapted to the image (:mod:`napari_limnet.adaptation`) carry the
  adapted weights' digest (``"weights"``); ``"adapted"`` maps each digest to its weights file,
  saved next to the session (``labels.limnet.pt``). Replay loads exactly those weights and
  checks their digest; a missing file is an error that names it.
- Objects that were refined from an earlier mask (:meth:`AnnotationSession.edit_object`) carry
  that mask (``"base_mask"``, see :mod:`napari_limnet.io.mask_codec`), so the session replays
  on its own. Version-1 files without it replay such objects only where base labels are given.

Format (version 2; version 1 files are read too)::

    {"format": "napari-limnet-session", "version": 2,
     "image": {"name": ..., "path": ..., "shape": [Z, Y, X], "spacing": [dz, dy, dx]},
     "weights": {"interaction": "<sha256>", ...}, "adapted": {"<digest>": "labels.limnet.pt"},
     "settings": {...},
     "objects": [{"id": 1, "base": null, "base_mask": null,
                  "rounds": [{"z": 17, "positive": [[y, x]], "negative": [], "weights": "<digest>"}]}]}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

FORMAT = "napari-limnet-session"
VERSION = 2
READABLE_VERSIONS = (1, 2)
SUFFIX = ".limnet.json"
WEIGHTS_SUFFIX = ".limnet.pt"


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
        "spacing": [float(v) for v in ctrl.spacing],
        "stop_when_empty": bool(ctrl.stop_when_empty),
        "max_slices": ctrl.max_slices,
        "z_limits": list(ctrl.z_limits) if ctrl.z_limits is not None else None,
        "precision": ctrl._runner.precision_requested,
        "fusion": ctrl.fusion.mode,
        "stopping": asdict(ctrl.stopping),
        "prompt": asdict(ctrl.prompt),
    }


def apply_settings(ctrl, settings: dict) -> None:
    """Set a controller to the recorded settings (see :func:`controller_settings`)."""
    from .inference.fusion import FusionConfig
    from .inference.prompt import PromptConfig
    from .inference.stopping import DriftGapRule, DriftPlateauRule, LeakCutRule, StoppingConfig, ValleyRule

    if settings.get("spacing") is not None:  # the voxel size the rounds ran at (sessions since issue 38)
        from .inference.volume import check_spacing

        ctrl.spacing = check_spacing(settings["spacing"])
    ctrl.stop_when_empty = bool(settings.get("stop_when_empty", True))
    ctrl.max_slices = settings.get("max_slices")
    zl = settings.get("z_limits")
    ctrl.z_limits = tuple(zl) if zl is not None else None
    ctrl.fusion = FusionConfig(mode=settings.get("fusion", "mrf"))
    st = settings.get("stopping")
    if st:
        # a rule a session does not name is replayed off: sessions saved before the growth cut have
        # no "growth", before the grown-mask erase no "grown_erase", before the intensity gap no
        # "drift_gap", and before the sustained-drift stop no "drift_plateau"
        valley = partial(_settings_rule, "valley", ValleyRule)
        leak = partial(_settings_rule, "leak_cut", LeakCutRule, defaults={"growth": None, "valley": None},
                       nested={"valley": valley})
        off = dict.fromkeys(("valley", "leak_cut", "drift_gap", "drift_plateau", "grown_erase"))
        ctrl.stopping = _settings_rule("stopping", StoppingConfig, st, defaults=off, nested={
            "valley": valley, "leak_cut": leak,
            "drift_gap": partial(_settings_rule, "drift_gap", DriftGapRule),
            "drift_plateau": partial(_settings_rule, "drift_plateau", DriftPlateauRule)})
    # sessions saved before the weak-edge look have no "prompt", those saved before the texture
    # edge no "texture_edge", before the small-window look no "small_look", and before the collapse
    # guard no "collapse_guard", before the border contrast no "border_contrast", before the click
    # trust rules no "reframe_guard", "local_correction" or "first_click_check": replay them as made
    pr = settings.get("prompt", {"weak_edge_look": False})
    known = {"weak_edge_look", "texture_edge", "small_look", "collapse_guard", "border_contrast", "mirror_border",
             "reframe_guard", "local_correction", "first_click_check"}
    if not isinstance(pr, dict) or set(pr) - known or not all(isinstance(pr.get(k, True), bool) for k in known):
        raise ValueError(f"invalid prompt settings in the session: {pr!r}")
    ctrl.prompt = PromptConfig(**{"texture_edge": False, "small_look": False, "collapse_guard": False,
                                  "border_contrast": False, "reframe_guard": False, "local_correction": False,
                                  "first_click_check": False, **pr})


def _settings_rule(key: str, rule: type, value, defaults: dict | None = None, nested: dict | None = None):
    """A stopping dataclass from a session's (untrusted) settings: None, or a dict of its fields.

    Each field must hold what its annotation allows: a number for ``float``/``int`` (never a
    bool), a bool for ``bool``, and None where the annotation admits None. ``nested`` maps a field
    to the builder of its own rule; ``defaults`` are the values of fields older sessions lack, when
    they differ from today's defaults. Anything else is a ValueError that names the setting.
    """
    if value is None:
        return None
    nested = nested or {}
    fields = {f.name: str(f.type) for f in dataclasses.fields(rule)}
    if not isinstance(value, dict) or set(value) - set(fields):
        raise ValueError(f"invalid {key} setting in the session: {value!r}")
    out = dict(defaults or {})
    for name, v in value.items():
        kind = fields[name]
        if name in nested:
            out[name] = nested[name](v)
            continue
        number = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ok = ((v is None and "None" in kind)
              or (kind.startswith("bool") and isinstance(v, bool))
              or (kind.startswith("float") and number)
              or (kind.startswith("int") and number and float(v).is_integer()))
        if not ok:
            raise ValueError(f"invalid {key} setting in the session: {name}={v!r}")
        out[name] = int(v) if kind.startswith("int") and v is not None else v
    return rule(**out)


@dataclass
class ObjectRecord:
    """One committed object: its id and the rounds that made it."""

    id: int
    rounds: list[dict]
    base: str | None = None  # "committed mask" when it was refined from an earlier mask
    overwrite: bool = False  # the commit replaced other objects' voxels
    settings: dict | None = None  # the controller settings its rounds ran with (None = the session's)
    base_mask: dict | None = None  # the earlier mask, encoded (io.mask_codec), when base is set

    def to_json(self) -> dict:
        return {"id": self.id, "base": self.base, "base_mask": self.base_mask, "overwrite": self.overwrite,
                "settings": self.settings, "rounds": self.rounds}

    @property
    def weight_digests(self) -> set[str]:
        """Digests of the adapted weights its rounds used (empty: shipped weights only)."""
        return {r["weights"] for r in self.rounds if r.get("weights")}


@dataclass
class SessionRecord:
    """What a session file holds (see the module docstring)."""

    image: dict
    settings: dict
    objects: list[ObjectRecord] = field(default_factory=list)
    weights: dict = field(default_factory=weights_digest)
    #: adapted-weights digest -> file name (next to the session file)
    adapted: dict = field(default_factory=dict)
    #: the folder the record was loaded from (where its adapted-weights files are looked for)
    folder: Path | None = None

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "image": self.image, "weights": self.weights,
                "adapted": self.adapted, "settings": self.settings, "objects": [o.to_json() for o in self.objects]}

    @property
    def weight_digests(self) -> set[str]:
        """Every adapted-weights digest some object's rounds used."""
        return set().union(*(o.weight_digests for o in self.objects)) if self.objects else set()

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
        if data.get("version") not in READABLE_VERSIONS:
            raise ValueError(f"{path.name} is session format version {data.get('version')}; "
                             f"this napari-limnet reads versions {', '.join(map(str, READABLE_VERSIONS))}")
        from .session_validation import check_session

        try:
            check_session(data)
            objects = [ObjectRecord(int(o["id"]), list(o["rounds"]), o.get("base"), bool(o.get("overwrite", False)),
                                    o.get("settings"), o.get("base_mask")) for o in data.get("objects", [])]
            adapted = {str(k): str(v) for k, v in dict(data.get("adapted") or {}).items()}
            for name in adapted.values():
                if Path(name).name != name or not name.endswith(WEIGHTS_SUFFIX):
                    raise ValueError(f"adapted weights must be a *{WEIGHTS_SUFFIX} file next to the session, not {name!r}")
            return cls(dict(data["image"]), dict(data.get("settings", {})), objects, dict(data.get("weights", {})),
                       adapted, path.resolve().parent)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"{path.name} is not a valid session file: {err}") from None

    def save_with_weights(self, path: str | Path, models_by_digest: dict) -> Path:
        """Save the session and, next to it, every adapted-weights file its rounds need.

        ``models_by_digest`` maps digest -> LimNetModels (the adapted networks in memory). The
        files are ``<stem>.limnet.pt`` (then ``<stem>-2.limnet.pt``, ...) for the session
        ``<stem>.limnet.json``. Raises ValueError when a needed digest is not given.
        """
        from .adaptation.weights_file import save_adapted

        path = Path(path)
        stem = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem
        self.adapted = {}
        for i, digest in enumerate(sorted(self.weight_digests)):
            if digest not in models_by_digest:
                raise ValueError(f"the adapted weights {digest[:12]} of this session are no longer in memory")
            name = f"{stem}{'' if i == 0 else f'-{i + 1}'}{WEIGHTS_SUFFIX}"
            save_adapted(models_by_digest[digest], path.with_name(name))
            self.adapted[digest] = name
        return self.save(path)

    def adapted_models(self, given: dict | None = None) -> dict:
        """digest -> LimNetModels for every adapted weights the rounds use: ``given`` ones first,
        then the files named in ``adapted`` next to the session (digests checked).

        Raises ValueError naming the missing or mismatching file, before anything runs.
        """
        from .adaptation.weights_file import load_adapted

        out = {}
        for digest in sorted(self.weight_digests):
            if given and digest in given:
                out[digest] = given[digest]
                continue
            name = self.adapted.get(digest)
            if name is None:
                raise ValueError(f"the session's rounds use adapted weights {digest[:12]} but it names no weights file for them")
            where = (self.folder or Path.cwd()) / name
            if not where.is_file():
                raise ValueError(f"the adapted weights file {where} is missing: it must lie next to the session file")
            models = load_adapted(where)
            if models.digest != digest:
                raise ValueError(f"{where.name} holds other weights than the session used (digest {models.digest[:12]}, "
                                 f"expected {digest[:12]})")
            out[digest] = models
        return out


def _round_json(entry: dict) -> dict:
    """A controller round record as JSON (2D prompt masks encoded)."""
    from .io.mask_codec import encode_mask

    out = dict(entry)
    if out.get("mask") is not None:
        out["mask"] = encode_mask(out["mask"])
    if out.get("box") is not None:
        out["box"] = [int(v) for v in out["box"]]
    return out


def encode_base(base_slices: dict, shape) -> dict:
    """The loaded base mask ({z: (Y, X) bool}) of a refined object, encoded over its z-extent only."""
    from .io.mask_codec import encode_mask

    zs = sorted(base_slices)
    block = np.stack([base_slices[z] for z in range(zs[0], zs[-1] + 1)]) if zs else np.zeros((0,) + tuple(shape[1:]), bool)
    enc = encode_mask(block)
    enc["offset"][0] += zs[0] if zs else 0
    enc["shape"][0] = int(shape[0])
    return enc


def object_record(ctrl, object_id: int) -> ObjectRecord:
    """The record of the controller's current object, to be committed as ``object_id``."""
    rounds = [_round_json(e) for e in ctrl.round_records()]
    base = ctrl.base_slices() if ctrl.started_from_mask else None
    return ObjectRecord(int(object_id), rounds, "committed mask" if ctrl.started_from_mask else None,
                        settings=controller_settings(ctrl),
                        base_mask=encode_base(base, ctrl.shape) if base is not None else None)


def replay_round(ctrl, r: dict, models_by_digest: dict, default_models=None) -> None:
    """Run one recorded round on ``ctrl`` with the weights it was made with.

    Rounds without a ``weights`` digest run with ``default_models`` (None = the shipped nets).
    """
    from .io.mask_codec import decode_mask

    digest = r.get("weights")
    wanted = models_by_digest[digest] if digest else default_models
    if wanted is not ctrl.models_given:
        ctrl.use_models(wanted)
    extra = {}
    if r.get("box") is not None:
        extra["box"] = tuple(int(v) for v in r["box"])
    if r.get("mask") is not None:
        extra["mask"] = decode_mask(r["mask"], tuple(ctrl.shape[1:]))
    ctrl.interact(int(r["z"]), [tuple(p) for p in r["positive"]], [tuple(p) for p in r["negative"]], **extra)


@dataclass
class ReplayResult:
    labels: np.ndarray  # (Z, Y, X) uint16
    timings: list[dict]  # per object: id, rounds, seconds, voxels (or skipped)
    warnings: list[str]
    models: dict = field(default_factory=dict)  # digest -> the adapted networks the rounds used


def replay(record: SessionRecord, volume, spacing=None, device=None, base_labels=None, models=None,
           adapted: dict | None = None) -> ReplayResult:
    """Re-run every object's rounds on ``volume``; labels as the commits wrote them.

    Objects are written in the order of their last commit, each where no other object is (unless
    its commit overwrote others), as the session's commits did. Rounds made with adapted weights
    run with exactly those (``adapted``: digest -> LimNetModels, else the files named in the
    session, next to it).

    ``spacing`` defaults to the recorded one. Raises ValueError when the volume's shape differs
    from the recorded image's, or when an adapted-weights file is missing (naming it).
    """
    from .controller import LimNetController
    from .io.mask_codec import decode_mask

    shape = tuple(np.shape(volume))
    if list(shape) != list(record.image.get("shape", shape)):
        raise ValueError(f"the session was recorded on an image of shape {tuple(record.image['shape'])}, this one is {shape}")
    spacing = tuple(spacing) if spacing is not None else tuple(record.image.get("spacing", (1.0, 1.0, 1.0)))
    by_digest = record.adapted_models(adapted)  # every weights file checked before anything runs
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
            if obj.base_mask is not None:
                ctrl.load_mask(decode_mask(obj.base_mask, shape))
            elif base_labels is None:
                warnings.append(f"object {obj.id} was refined from an earlier mask: give the base labels to replay it")
                timings.append({"id": obj.id, "skipped": True})
                continue
            else:
                ctrl.load_mask(np.asarray(base_labels) == obj.id)
        t0 = time.perf_counter()
        for r in obj.rounds:
            replay_round(ctrl, r, by_digest, models)
        mask = np.asarray(ctrl.mask, dtype=bool)
        labels[labels == obj.id] = 0
        free = (labels == 0) | obj.overwrite
        labels[mask & free] = obj.id
        timings.append({"id": obj.id, "rounds": len(obj.rounds), "seconds": time.perf_counter() - t0,
                        "voxels": int((labels == obj.id).sum())})
    return ReplayResult(labels, timings, warnings, by_digest)
