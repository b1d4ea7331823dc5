"""Checks a saved session (parsed JSON, untrusted) field by field before anything runs.

A session file is shared between people, so every part is checked when it is loaded, for replay,
batch and Load session alike: the image, the weights' digests, and each object, round, click, box
and stored mask. The first problem found is a ValueError naming the field by its path, e.g.
``objects[1].rounds[0].positive[2]: expected [y, x] (two whole numbers), got 7``. The settings are
checked where they are applied (:func:`napari_limnet.session_files.apply_settings`).
"""

from __future__ import annotations

import math
import numbers


def _fail(where: str, expected: str, value) -> None:
    text = repr(value)
    raise ValueError(f"{where}: expected {expected}, got {text if len(text) <= 80 else text[:77] + '...'}")


def _is_int(v) -> bool:
    """A whole number (an int, or a float with no fraction; never a bool)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return False
    return isinstance(v, numbers.Integral) or (math.isfinite(v) and float(v).is_integer())


def _positive_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _dict(where: str, v, keys_required=(), optional=()) -> dict:
    if not isinstance(v, dict):
        _fail(where, "an object ({...})", v)
    missing = [k for k in keys_required if k not in v]
    if missing:
        raise ValueError(f"{where}: the field '{missing[0]}' is missing")
    unknown = set(v) - set(keys_required) - set(optional)
    if optional is not None and unknown and optional != "*":
        raise ValueError(f"{where}: unknown field '{sorted(unknown)[0]}'")
    return v


def _list(where: str, v) -> list:
    if not isinstance(v, list):
        _fail(where, "a list", v)
    return v


def check_image(image) -> tuple[int, int, int] | None:
    """The recorded image: returns its (Z, Y, X) shape, or None when the session does not record it."""
    _dict("image", image, optional=("name", "path", "shape", "spacing", "affine", "level"))
    for key in ("name", "path"):
        if image.get(key) is not None and not isinstance(image[key], str):
            _fail(f"image.{key}", "a text or null", image[key])
    shape = image.get("shape")
    if shape is not None:
        if not (isinstance(shape, list) and len(shape) == 3 and all(_is_int(v) and v > 0 for v in shape)):
            _fail("image.shape", "[Z, Y, X] (three positive whole numbers)", shape)
    spacing = image.get("spacing")
    if spacing is not None and not (isinstance(spacing, list) and len(spacing) == 3 and all(map(_positive_number, spacing))):
        _fail("image.spacing", "[dz, dy, dx] (three positive numbers)", spacing)
    affine = image.get("affine")
    if affine is not None:
        ok = isinstance(affine, list) and len(affine) == 4 and all(
            isinstance(row, list) and len(row) == 4 and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                                            and math.isfinite(v) for v in row) for row in affine)
        if not ok:
            _fail("image.affine", "a 4 x 4 list of numbers", affine)
    if image.get("level") is not None and not (_is_int(image["level"]) and image["level"] >= 0):
        _fail("image.level", "a whole number >= 0", image["level"])
    return tuple(int(v) for v in shape) if shape is not None else None


def check_digests(where: str, value) -> None:
    """``weights`` / ``adapted``: an object of text -> text."""
    if value is None:
        return
    _dict(where, value, optional="*")
    for k, v in value.items():
        if not isinstance(v, str):
            _fail(f"{where}.{k}", "a text", v)


def check_click(where: str, p, shape) -> None:
    if not (isinstance(p, list) and len(p) == 2 and all(map(_is_int, p))):
        _fail(where, "[y, x] (two whole numbers)", p)
    if shape is not None and not (0 <= p[0] < shape[1] and 0 <= p[1] < shape[2]):
        raise ValueError(f"{where}: the click {p} is outside the image's {shape[1]} x {shape[2]} slices")


def check_mask(where: str, value, shape) -> None:
    """An encoded mask (:mod:`napari_limnet.io.mask_codec`), decoded once to prove it is whole."""
    from .io.mask_codec import decode_mask

    _dict(where, value, optional="*")
    try:
        decode_mask(value, shape)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def check_round(where: str, r, shape) -> None:
    _dict(where, r, keys_required=("z", "positive", "negative"), optional=("box", "mask", "weights"))
    if not _is_int(r["z"]) or r["z"] < 0 or (shape is not None and r["z"] >= shape[0]):
        _fail(f"{where}.z", f"a slice index 0..{shape[0] - 1 if shape else 'Z-1'}", r["z"])
    for sign in ("positive", "negative"):
        for i, p in enumerate(_list(f"{where}.{sign}", r[sign])):
            check_click(f"{where}.{sign}[{i}]", p, shape)
    box = r.get("box")
    if box is not None and not (isinstance(box, list) and len(box) == 4 and all(map(_is_int, box))):
        _fail(f"{where}.box", "[ymin, xmin, ymax, xmax] (four whole numbers) or null", box)
    if r.get("mask") is not None:
        check_mask(f"{where}.mask", r["mask"], shape[1:] if shape else None)
    if r.get("weights") is not None and not isinstance(r["weights"], str):
        _fail(f"{where}.weights", "a weights digest (text) or null", r["weights"])
    if not (r["positive"] or r["negative"] or box is not None or r.get("mask") is not None):
        raise ValueError(f"{where}: a round needs a click, a box or a mask")


def check_object(where: str, o, shape) -> None:
    _dict(where, o, keys_required=("id", "rounds"), optional=("base", "base_mask", "overwrite", "settings"))
    if not (_is_int(o["id"]) and 0 < o["id"] < 2**16):
        _fail(f"{where}.id", "an object id 1..65535", o["id"])
    if o.get("base") is not None and not isinstance(o["base"], str):
        _fail(f"{where}.base", "a text or null", o["base"])
    if o.get("base_mask") is not None:
        check_mask(f"{where}.base_mask", o["base_mask"], shape)
    if not isinstance(o.get("overwrite", False), bool):
        _fail(f"{where}.overwrite", "true or false", o["overwrite"])
    if o.get("settings") is not None:
        check_settings(f"{where}.settings", o["settings"])
    for i, r in enumerate(_list(f"{where}.rounds", o["rounds"])):
        check_round(f"{where}.rounds[{i}]", r, shape)


def check_settings(where: str, settings) -> None:
    """The controller settings' plain fields (the stopping and prompt rules are checked where they are applied)."""
    _dict(where, settings, optional="*")
    sp = settings.get("spacing")
    if sp is not None and not (isinstance(sp, list) and len(sp) == 3 and all(map(_positive_number, sp))):
        _fail(f"{where}.spacing", "[dz, dy, dx] (three positive numbers)", sp)
    if "stop_when_empty" in settings and not isinstance(settings["stop_when_empty"], bool):
        _fail(f"{where}.stop_when_empty", "true or false", settings["stop_when_empty"])
    m = settings.get("max_slices")
    if m is not None and not (_is_int(m) and m >= 0):
        _fail(f"{where}.max_slices", "a whole number >= 0 or null", m)
    zl = settings.get("z_limits")
    if zl is not None and not (isinstance(zl, list) and len(zl) == 2 and all(_is_int(v) and v >= 0 for v in zl)
                               and zl[0] <= zl[1]):
        _fail(f"{where}.z_limits", "[first, last] (two slice indices, first <= last) or null", zl)
    if settings.get("fusion", "mrf") not in ("mrf", "new"):
        _fail(f"{where}.fusion", "'mrf' or 'new'", settings["fusion"])
    if settings.get("precision", "fp32") not in ("fp32", "bf16", "auto"):
        _fail(f"{where}.precision", "'fp32', 'bf16' or 'auto'", settings["precision"])
    for key in ("stopping", "prompt"):
        if settings.get(key) is not None and not isinstance(settings[key], dict):
            _fail(f"{where}.{key}", "an object ({...}) or null", settings[key])


def check_session(data: dict) -> None:
    """Every field of a parsed session file (its format and version are checked by the caller)."""
    shape = check_image(data.get("image"))
    check_digests("weights", data.get("weights"))
    check_digests("adapted", data.get("adapted"))
    if data.get("settings") is not None:
        check_settings("settings", data["settings"])
    ids = set()
    for i, o in enumerate(_list("objects", data.get("objects", []))):
        check_object(f"objects[{i}]", o, shape)
        if o["id"] in ids:
            raise ValueError(f"objects[{i}].id: object {o['id']} appears twice")
        ids.add(o["id"])
