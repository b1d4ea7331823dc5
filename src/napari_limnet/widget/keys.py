"""The annotator's keys (shown in its buttons and tooltips), where they act, and propagation range modes.

napari's own layer keys come first. The plugin binds every key on the viewer (napari's keymap of the
active layer is read before the viewer's, so napari's tool keys keep working), and on its own layers
only the keys that napari binds nothing to for that layer type: R on '... boxes' picks the rectangle
tool, P on '... current object' paints, S on '... prompts' selects points, E on a Labels layer erases.
"""

from __future__ import annotations

KEYS = {"segment": "S", "commit": "C", "undo": "U", "reset": "R", "next": "N", "toggle": "T", "goto": "G", "edit": "E",
        "learn": "L", "propagate": "Shift+P"}
RANGE_MODES = ("All slices", "Up to N slices each way", "Between two slices")

#: what each key does, for the tooltips and the README's key table
KEY_ACTIONS = {"segment": "Segment: run a round on this slice with its clicks",
               "commit": "Commit the current object",
               "undo": "Undo the latest round, commit, reset or refine",
               "reset": "Reset: clear the current object (undoable)",
               "next": "Next object (commits the current one)",
               "toggle": "Toggle positive / negative prompts",
               "goto": "Go to the least confident slice",
               "edit": "Refine the committed object whose id is in the panel",
               "learn": "Learn from my objects (or stop learning)",
               "propagate": "Propagate this (painted) slice"}


def normalise_key(key) -> str:
    """napari's canonical spelling of a key ('Shift-P' and 'Shift+P' both give 'Shift+P')."""
    from napari.utils.key_bindings import coerce_keybinding

    return str(coerce_keybinding(key))


def napari_keys(target) -> set[str]:
    """The keys napari itself binds for ``target``'s layer type (empty for the viewer)."""
    from napari.layers import Layer

    if not isinstance(target, Layer):
        return set()
    taken: set[str] = set()
    for cls in type(target).__mro__:
        taken |= {normalise_key(k) for k in getattr(cls, "class_keymap", {}) or {}}
    return taken


def keys_for(target) -> dict[str, str]:
    """The plugin's keys to bind on ``target``: action name -> key, leaving out those napari binds there."""
    taken = napari_keys(target)
    return {name: key for name, key in KEYS.items() if normalise_key(key) not in taken}


def key_table() -> list[tuple[str, str, str]]:
    """(key, action, where napari's own key wins instead) per plugin key, for docs and tooltips."""
    from napari.layers import Image, Labels, Points, Shapes

    rows = []
    for name, key in KEYS.items():
        k = normalise_key(key)
        napari_wins = [cls.__name__ for cls in (Image, Points, Labels, Shapes)
                       if k in {normalise_key(b) for b in getattr(cls, "class_keymap", {}) or {}}]
        rows.append((key, KEY_ACTIONS[name], ", ".join(napari_wins) or "nowhere"))
    return rows


def key_hint(name: str) -> str:
    """The tooltip sentence for action ``name``'s key ('' when it has none)."""
    if name not in KEYS:
        return ""
    key, _, napari_wins = next(r for n, r in zip(KEYS, key_table()) if n == name)
    if napari_wins == "nowhere":
        return f" Key: {key}."
    return f" Key: {key} (with a {napari_wins} layer selected, napari's own {key} acts instead: use the button)."
