"""What the annotator knows about each image, kept outside the dock widget.

Per viewer and per image layer: the plugin's layers (:class:`PluginLayers`), one
:class:`~napari_limnet.annotation_session.AnnotationSession` per time point (rounds, commits, undo
history) and which slices of the current-object layer show something. It lives here, not in the
widget, so that

- switching the widget to another image and back restores that image's session, layers and
  undo history exactly;
- closing the dock and opening it again adopts the same layers and sessions (nothing is lost,
  and no second copy of the state disagrees with what is on screen).

Qt-free; it only holds references (image layers are tracked weakly: a removed image's state is
dropped by :func:`forget`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

from .layers import PluginLayers

if TYPE_CHECKING:
    from ..annotation_session import AnnotationSession


@dataclass
class ImageState:
    """The annotator's state for one image layer."""

    layers: PluginLayers
    sessions: "dict[tuple, AnnotationSession]" = field(default_factory=dict)
    shown: dict[tuple, set[int]] = field(default_factory=dict)
    journal: object = None  # the image's AutosaveJournal, made on the first session
    #: networks adapted to this image (digest -> LimNetModels): every one that made a round is kept,
    #: so exports can save them next to the session
    adapted: dict = field(default_factory=dict)
    adapted_current: object = None  # the latest adapted networks (None: never learned)
    use_adapted: bool = False  # rounds use adapted_current (else the shipped networks)
    learn_report: str = ""  # what the last learning said


_STATES: "weakref.WeakKeyDictionary[object, dict[tuple, ImageState]]" = weakref.WeakKeyDictionary()


def _per_viewer(viewer) -> dict[tuple, ImageState]:
    try:
        return _STATES.setdefault(viewer, {})
    except TypeError:  # a viewer that cannot be weakly referenced (tests' stand-ins)
        return viewer.__dict__.setdefault("_limnet_states", {})


def state_for(viewer, image, level: int = 0) -> ImageState:
    """The state of ``image`` (at resolution ``level``) in ``viewer``, created with its layers on first use."""
    states = _per_viewer(viewer)
    st = states.get((id(image), level))
    if st is None or st.layers.image is not image:
        st = ImageState(PluginLayers(viewer, image, level))
        states[(id(image), level)] = st
    return st


def existing_state(viewer, image, level: int = 0) -> ImageState | None:
    st = _per_viewer(viewer).get((id(image), level))
    return st if st is not None and st.layers.image is image else None


def forget(viewer, image) -> None:
    """Drop the states (all levels) of an image that left the viewer."""
    states = _per_viewer(viewer)
    for key in [k for k in states if k[0] == id(image)]:
        states.pop(key, None)
