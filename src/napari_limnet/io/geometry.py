"""Voxel-to-world geometry in the plugin's (Z, Y, X) axis order, and its napari layer form.

Arrays are handled as (Z, Y, X). A :class:`Geometry` holds the 4x4 affine that maps a
(z, y, x) voxel index to world coordinates in the same reversed order (world axis 0 is the
file's third world axis, e.g. S for a RAS NIfTI). For napari it is split into ``scale``,
``translate``, ``rotate`` and ``shear`` (linear part = rotate @ shear @ diag(scale), shear upper
triangular), which is napari's own convention.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Reverses the three spatial axes of a 4x4 homogeneous matrix: (x, y, z) <-> (z, y, x).
REVERSE = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float)


@dataclass
class Geometry:
    """affine: (4, 4) mapping (z, y, x, 1) voxel indices to reversed-order world coordinates."""

    affine: np.ndarray = field(default_factory=lambda: np.eye(4))

    @classmethod
    def from_spacing(cls, spacing, origin=(0.0, 0.0, 0.0)) -> "Geometry":
        a = np.eye(4)
        a[:3, :3] = np.diag([float(s) for s in spacing])
        a[:3, 3] = [float(o) for o in origin]
        return cls(a)

    @classmethod
    def from_nifti_affine(cls, affine_xyz: np.ndarray) -> "Geometry":
        """From a NIfTI affine (voxel (i, j, k) -> world (x, y, z))."""
        return cls(REVERSE @ np.asarray(affine_xyz, dtype=float) @ REVERSE)

    def nifti_affine(self) -> np.ndarray:
        """The NIfTI affine (voxel (i, j, k) -> world (x, y, z))."""
        return REVERSE @ self.affine @ REVERSE

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along (z, y, x): lengths of the affine's columns."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))

    def layer_kwargs(self) -> dict:
        """napari layer keyword arguments: scale, translate and, where needed, rotate and shear."""
        rotate, scale, shear = decompose_linear(self.affine[:3, :3])
        kwargs = {"scale": tuple(scale.tolist()), "translate": tuple(self.affine[:3, 3].tolist())}
        if not np.allclose(rotate, np.eye(3), atol=1e-9):
            kwargs["rotate"] = rotate.tolist()
        if not np.allclose(shear, 0, atol=1e-9):
            kwargs["shear"] = shear.tolist()
        return kwargs

    @classmethod
    def from_layer(cls, scale, translate, rotate=None, shear=None, affine=None) -> "Geometry":
        """Inverse of :meth:`layer_kwargs` (``affine`` = napari's extra world affine, optional)."""
        scale = np.asarray(scale, dtype=float)[-3:]
        rot = np.eye(3) if rotate is None else np.asarray(rotate, dtype=float)[-3:, -3:]
        sh = np.eye(3)
        if shear is not None:
            s = np.asarray(shear, dtype=float)
            if s.shape == (3, 3):
                sh = s
            else:
                sh[np.triu_indices(3, 1)] = s[-3:]
        a = np.eye(4)
        a[:3, :3] = rot @ sh @ np.diag(scale)
        a[:3, 3] = np.asarray(translate, dtype=float)[-3:]
        if affine is not None:
            extra = np.asarray(affine, dtype=float)
            if extra.shape[0] > 4:
                extra = np.block([[extra[-4:-1, -4:-1], extra[-4:-1, -1:]], [np.zeros((1, 3)), np.ones((1, 1))]])
            a = extra @ a
        return cls(a)


def decompose_linear(linear: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """linear (3, 3) = rotate @ shear @ diag(scale), rotate proper (det +1), shear unit upper triangular.

    Returns (rotate (3, 3), scale (3,), shear (3,) = the upper off-diagonal (01, 02, 12)).
    Reflections end up as a negative scale.
    """
    q, r = np.linalg.qr(np.asarray(linear, dtype=float))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1
    q = q * signs
    r = signs[:, None] * r
    if np.linalg.det(q) < 0:
        q[:, -1] *= -1
        r[-1, :] *= -1
    scale = np.diag(r).copy()
    shear_m = r / scale[None, :]
    shear = np.array([shear_m[0, 1], shear_m[0, 2], shear_m[1, 2]])
    return q, scale, shear
