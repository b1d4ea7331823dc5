"""The plugin's own napari layers for one image, re-created when the user deletes them.

For an image layer named ``img``:

- ``img prompts``: Points; feature ``label`` is 'positive' (green) or 'negative' (red);
- ``img scribbles``: Labels; paint 1 = positive, 2 = negative; strokes become clicks;
- ``img current object``: Labels with the current object (and the live 2D preview);
- ``img committed``: Labels with all committed objects;
- ``img boxes``: Shapes (rectangles); a rectangle drawn on a slice runs a box round.

Every layer copies the image's scale, translate, rotate, shear and affine, and its metadata
(so the NIfTI affine travels to the writer). Clicks are converted with
``image.world_to_data(layer.data_to_world(point))``.
"""

from __future__ import annotations

import numpy as np

POSITIVE, NEGATIVE = "positive", "negative"
POSITIVE_COLOR = np.array([0.1, 0.9, 0.1, 1.0])
NEGATIVE_COLOR = np.array([1.0, 0.15, 0.15, 1.0])
BOX_COLOR = np.array([1.0, 0.85, 0.1, 1.0])
SCRIBBLE_POSITIVE, SCRIBBLE_NEGATIVE = 1, 2
#: Most clicks one stroke label contributes per slice, and their spacing (pixels).
MAX_SCRIBBLE_CLICKS = 12
SCRIBBLE_SPACING = 6.0


def transform_kwargs(image, factor=None) -> dict:
    """scale/translate/rotate/shear/affine of ``image`` as layer keyword arguments.

    ``factor`` (per axis) scales the voxel size for a lower level of a multiscale image (napari
    places level L at the level-0 origin with its voxels ``factor`` times larger).
    """
    scale = np.asarray(image.scale, dtype=float) * (np.asarray(factor, dtype=float) if factor is not None else 1.0)
    return {
        "scale": tuple(scale),
        "translate": tuple(image.translate),
        "rotate": np.asarray(image.rotate),
        "shear": np.asarray(image.shear),
        "affine": np.asarray(image.affine.affine_matrix),
        "metadata": dict(image.metadata),
    }


#: The plugin layers of one image, bottom to top: clicks stay visible over the masks.
ROLE_ORDER = ("committed", "current object", "scribbles", "boxes", "prompts")

#: The annotator's label layers (current uint8, committed uint16, scribbles uint8) cost 4 bytes per
#: voxel; they may use at most this fraction of the machine's memory.
LABEL_MEMORY_FRACTION = 0.5


def physical_memory_bytes() -> int:
    try:
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def check_label_memory(shape) -> None:
    """Refuse, with the reason, images whose label layers cannot fit in memory."""
    need = 4 * int(np.prod(shape, dtype=np.int64))
    have = physical_memory_bytes()
    if need > LABEL_MEMORY_FRACTION * have:
        raise ValueError(
            f"this image has {np.prod(shape, dtype=np.int64):,} voxels; the annotator's label layers would need "
            f"{need / 2**30:.1f} GB but this machine has {have / 2**30:.1f} GB. Crop or downsample the image in napari, "
            "or segment it headless with LimNetController, which reads lazy volumes slice by slice."
        )


def spaced_samples(coords: np.ndarray, spacing: float = SCRIBBLE_SPACING, limit: int = MAX_SCRIBBLE_CLICKS) -> np.ndarray:
    """Farthest-point sampling of stroke pixels (N, 2): well-spread clicks along the strokes."""
    coords = np.asarray(coords, dtype=float).reshape(-1, 2)
    if len(coords) == 0:
        return coords
    chosen = [int(np.argmin(coords[:, 0] * 1e6 + coords[:, 1]))]
    dist = np.linalg.norm(coords - coords[chosen[0]], axis=1)
    while len(chosen) < limit:
        i = int(np.argmax(dist))
        if dist[i] < spacing:
            break
        chosen.append(i)
        dist = np.minimum(dist, np.linalg.norm(coords - coords[i], axis=1))
    return coords[chosen]


class PluginLayers:
    """Finds or (re-)creates the plugin's layers for ``image`` in ``viewer``.

    ``committed_data`` / ``current_data`` are kept here, so a deleted layer comes back with its
    content (nothing committed is lost when a layer is removed by accident): a removed layer is
    put back as the same object, with its data, points and connections. When the viewer already
    holds the plugin's layers for this image (the dock was closed and opened again), their data
    arrays are adopted, so what the annotator writes is what is on screen.
    """

    LABEL_ROLES = {"committed": ("committed_data", np.uint16), "current object": ("current_data", np.uint8),
                   "scribbles": ("scribble_data", np.uint8)}

    def __init__(self, viewer, image, level: int = 0):
        self.viewer = viewer
        self.image = image
        self.level = int(level) if image.multiscale else 0
        full = tuple(image.data[0].shape if image.multiscale else image.data.shape)
        shape = tuple(image.data[self.level].shape) if image.multiscale else full
        self.shape = shape
        #: level-0 voxels per voxel of this level, per axis (1 everywhere for level 0)
        self.factor = np.asarray(full, dtype=float) / np.asarray(shape, dtype=float)
        check_label_memory(shape)
        self._layers: dict[str, object] = {}
        for role, (attr, dtype) in self.LABEL_ROLES.items():
            existing = self._find(role)
            adopt = existing is not None and isinstance(existing.data, np.ndarray) and existing.data.dtype.kind in "ui"
            setattr(self, attr, existing.data if adopt else np.zeros(shape, dtype=dtype))

    # -- names and lookup -----------------------------------------------------------------------
    def name(self, role: str) -> str:
        return f"{self.image.name} {role}" + (f" (level {self.level})" if self.level else "")

    # -- coordinates: world <-> voxel index of this level ----------------------------------------
    def world_to_index(self, world) -> np.ndarray:
        """World point -> (float) voxel index of this level (all image axes)."""
        return np.asarray(self.image.world_to_data(np.asarray(world, dtype=float)), dtype=float) / self.factor

    def index_to_world(self, index) -> np.ndarray:
        """Voxel index of this level -> world point."""
        return np.asarray(self.image.data_to_world(np.asarray(index, dtype=float) * self.factor), dtype=float)

    def _find(self, role: str):
        layer = self._layers.get(role)
        if layer is not None and layer in self.viewer.layers:
            return layer
        if layer is not None and self.image in self.viewer.layers:
            self._insert(layer, role)  # removed by the user: the same layer comes back, in its place
            return layer
        name = self.name(role)
        for existing in self.viewer.layers:
            if existing.name == name and existing.metadata.get("limnet_role") == role:
                if role in self.LABEL_ROLES and tuple(existing.data.shape) != tuple(self.shape):
                    # A same-named layer of another image: keep the user's data, step aside.
                    existing.name = f"{name} (shape {'x'.join(map(str, existing.data.shape))})"
                    existing.metadata = {**existing.metadata, "limnet_role": None}
                    return None
                self._layers[role] = existing
                return existing
        return None

    def _insert(self, layer, role: str) -> None:
        """Put ``layer`` into the viewer in :data:`ROLE_ORDER` among this image's plugin layers
        (prompts on top), leaving the user's active layer active (napari activates what is added:
        a layer made in the background must not switch the user's tool)."""
        later = {self._layers.get(r) for r in ROLE_ORDER[ROLE_ORDER.index(role) + 1:]} - {None}
        index = next((i for i, lay in enumerate(self.viewer.layers) if any(lay is x for x in later)), len(self.viewer.layers))
        active = self.viewer.layers.selection.active
        self.viewer.layers.insert(index, layer)
        self._layers[role] = layer
        if active is not None and active in self.viewer.layers:
            self.viewer.layers.selection.active = active

    def missing(self) -> list[str]:
        """Roles (in :data:`ROLE_ORDER`, bottom first) whose layer is not in the viewer now."""
        return [role for role in ROLE_ORDER if self._find(role) is None]

    def ensure(self, role: str):
        """The layer of ``role``, created (or put back) when missing."""
        return {"prompts": self.prompts, "boxes": self.boxes, "scribbles": self.scribbles,
                "current object": self.current, "committed": self.committed}[role]()

    def owns(self, layer) -> bool:
        return any(layer is lay for lay in self._layers.values())

    def present(self) -> dict[str, object]:
        """The plugin's layers of this image that are in the viewer now, by role."""
        return {role: lay for role, lay in self._layers.items() if lay in self.viewer.layers}

    # -- layers ---------------------------------------------------------------------------------
    def prompts(self):
        layer = self._find("prompts")
        if layer is None:
            kw = transform_kwargs(self.image)
            kw["metadata"] = {**kw["metadata"], "limnet_role": "prompts"}
            from napari.layers import Points

            layer = Points(
                np.zeros((0, self.image.ndim)),
                ndim=self.image.ndim,
                name=self.name("prompts"),
                features={"label": np.array([], dtype=object)},
                feature_defaults={"label": POSITIVE},
                face_color=POSITIVE_COLOR,
                border_color="white",
                size=max(3.0, 0.012 * max(self.shape[-2:]) * float(np.min(self.image.scale[-2:]))),
                **kw,
            )
            layer.events.data.connect(lambda event, lay=layer: recolor(lay))
            self._insert(layer, "prompts")
            layer.mode = "add"
        return layer

    def _labels(self, role: str, data: np.ndarray, opacity: float, colormap=None):
        layer = self._find(role)
        if layer is None:
            kw = transform_kwargs(self.image, self.factor)
            kw["metadata"] = {**kw["metadata"], "limnet_role": role, "limnet_level": self.level}
            if colormap is not None:
                kw["colormap"] = colormap
            from napari.layers import Labels

            self._insert(Labels(data, name=self.name(role), opacity=opacity, **kw), role)
            layer = self._layers[role]
        return layer

    def scribbles(self):
        return self._labels("scribbles", self.scribble_data, 0.8)

    def current(self):
        """The current object: one colour of its own (committed objects take napari's cycle of colours)."""
        return self._labels("current object", self.current_data, 0.6, current_object_colormap())

    def committed(self):
        return self._labels("committed", self.committed_data, 0.45)

    def boxes(self):
        layer = self._find("boxes")
        if layer is None:
            kw = transform_kwargs(self.image)
            kw["metadata"] = {**kw["metadata"], "limnet_role": "boxes"}
            from napari.layers import Shapes

            layer = Shapes(
                ndim=self.image.ndim, name=self.name("boxes"), shape_type="rectangle", edge_color=BOX_COLOR,
                face_color=[0.0, 0.0, 0.0, 0.0], edge_width=max(1.0, 0.004 * max(self.shape[-2:]) * float(np.min(self.image.scale[-2:]))),
                **kw,
            )
            self._insert(layer, "boxes")
        return layer

    def ensure_all(self):
        """Every plugin layer of this image, created when missing; returns the prompts layer."""
        for role in ROLE_ORDER:
            self.ensure(role)
        return self.prompts()

    def box_on_slice(self, layer, index: int, lead: tuple[int, ...]):
        """(z, (ymin, xmin, ymax, xmax)) of rectangle ``index`` of the boxes layer in voxels of this
        level (clipped to the slice), or None when it is not on one slice of time point ``lead``."""
        if not 0 <= index < len(layer.data):
            return None
        idx = np.asarray([self.world_to_index(layer.data_to_world(p)) for p in np.asarray(layer.data[index], float)])
        zs = np.rint(idx[:, -3]).astype(int)
        if len(set(zs.tolist())) != 1 or any(tuple(np.rint(v[:-3]).astype(int)) != tuple(lead) for v in idx):
            return None
        h, w = self.shape[-2:]
        ymin, ymax = int(np.clip(np.floor(idx[:, -2].min() + 0.5), 0, h - 1)), int(np.clip(np.ceil(idx[:, -2].max() - 0.5), 0, h - 1))
        xmin, xmax = int(np.clip(np.floor(idx[:, -1].min() + 0.5), 0, w - 1)), int(np.clip(np.ceil(idx[:, -1].max() - 0.5), 0, w - 1))
        return int(zs[0]), (ymin, xmin, ymax, xmax)

    def clear_boxes(self, lead: tuple[int, ...]) -> None:
        """Remove the rectangles of time point ``lead`` (the current object was finished or reset)."""
        layer = self._find("boxes")
        if layer is None or not len(layer.data):
            return
        drop = [i for i in range(len(layer.data)) if self.box_on_slice(layer, i, lead) is not None]
        if drop:
            with layer.events.data.blocker():
                layer.selected_data = set(drop)
                layer.remove_selected()

    # -- clicks ---------------------------------------------------------------------------------
    def to_image_index(self, layer, points: np.ndarray) -> np.ndarray:
        """(N, ndim) layer data coordinates -> (N, ndim) image voxel indices (rounded)."""
        if len(points) == 0:
            return np.zeros((0, self.image.ndim), dtype=int)
        out = [self.world_to_index(layer.data_to_world(p)) for p in np.asarray(points, dtype=float)]
        return np.rint(np.asarray(out, dtype=float)).astype(int)

    def clicks(self, lead: tuple[int, ...], z: int) -> tuple[list, list]:
        """(positive, negative) (y, x) clicks on slice z of time point ``lead`` (() for 3D images).

        From the prompts layer and from the scribbles on that slice.
        """
        pos, neg = [], []
        layer = self._find("prompts")
        if layer is not None and len(layer.data):
            idx = self.to_image_index(layer, layer.data)
            labels = np.asarray(layer.features["label"]) if "label" in layer.features else np.array([POSITIVE] * len(idx))
            for p, lab in zip(idx, labels):
                if tuple(p[:-3]) == tuple(lead) and p[-3] == z:
                    (neg if lab == NEGATIVE else pos).append((int(p[-2]), int(p[-1])))
        sl = self.scribble_data[tuple(lead) + (z,)]
        for value, target in ((SCRIBBLE_POSITIVE, pos), (SCRIBBLE_NEGATIVE, neg)):
            coords = np.argwhere(sl == value)
            target.extend((int(y), int(x)) for y, x in spaced_samples(coords))
        return pos, neg

    def set_clicks(self, lead: tuple[int, ...], interactions: dict) -> None:
        """Replace the prompt points of time point ``lead`` with ``{z: (positive, negative)}``."""
        layer = self.prompts()
        keep, keep_labels = [], []
        if len(layer.data):
            idx = self.to_image_index(layer, layer.data)
            labels = np.asarray(layer.features["label"])
            for p, q, lab in zip(layer.data, idx, labels):
                if tuple(q[:-3]) != tuple(lead):
                    keep.append(p)
                    keep_labels.append(lab)
        for z, (pos, neg) in sorted(interactions.items()):
            for clicks, lab in ((pos, POSITIVE), (neg, NEGATIVE)):
                for y, x in clicks:
                    voxel = np.array(tuple(lead) + (z, y, x), dtype=float)
                    keep.append(layer.world_to_data(self.index_to_world(voxel)))
                    keep_labels.append(lab)
        default = layer.feature_defaults["label"][0] if len(layer.feature_defaults) else POSITIVE
        with layer.events.data.blocker():
            layer.data = np.asarray(keep, dtype=float).reshape(-1, self.image.ndim)
            layer.features = {"label": np.asarray(keep_labels, dtype=object)}
        layer.feature_defaults = {"label": default}
        recolor(layer)


#: The current object's colour (RGBA): cyan, the colour farthest from napari's label cycle (every one of the
#: first 199 committed ids differs from it by at least 0.35 in some channel; yellow came within 0.12 of id 9).
CURRENT_COLOR = (0.0, 1.0, 1.0, 1.0)


def current_object_colormap():
    """Every non-zero label of the current-object layer in :data:`CURRENT_COLOR`; 0 transparent."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: CURRENT_COLOR, 0: (0.0, 0.0, 0.0, 0.0), 1: CURRENT_COLOR})


def recolor(layer) -> None:
    """Green for positive, red for negative prompts."""
    if not len(layer.data) or "label" not in layer.features:
        return
    labels = np.asarray(layer.features["label"])
    colors = np.where((labels == NEGATIVE)[:, None], NEGATIVE_COLOR, POSITIVE_COLOR)
    if not np.array_equal(np.asarray(layer.face_color), colors):
        layer.face_color = colors


def set_prompt_mode(layer, label: str) -> None:
    """New points get ``label`` (and its colour, also in the layer controls); in select mode, the
    selected points switch to it too."""
    layer.feature_defaults = {"label": label}
    if str(layer.mode) != "select" or any(i >= len(layer.data) for i in layer.selected_data):
        layer.selected_data = set()  # only points selected on purpose take the new colour
    layer.current_face_color = NEGATIVE_COLOR if label == NEGATIVE else POSITIVE_COLOR
    recolor(layer)  # the line above may have painted selected points: colours follow the labels
    selected = sorted(layer.selected_data) if str(layer.mode) == "select" else []
    if selected:
        feats = layer.features.copy()
        feats.loc[selected, "label"] = label
        layer.features = feats
        recolor(layer)
