"""The first click's collapse guard (inference.prompt.EdgePass, PromptConfig.collapse_guard): once a
larger window won on a clear edge, re-framing may not shrink the mask onto a patch inside the object."""

import numpy as np
import pytest
import torch

from napari_limnet import LimNetController
from napari_limnet.evaluation.metrics import dice
from napari_limnet.evaluation.robot_user import first_click
from napari_limnet.evaluation.textured_nuclei import textured_nuclei_case
from napari_limnet.inference.crops import CropBox
from napari_limnet.inference.mask_store import SliceMask
from napari_limnet.inference.prompt import COLLAPSE_CONTRAST, EDGE_CONTRAST, EdgePass, PromptConfig


def edge_pass(contrast: float, area: int) -> EdgePass:
    """An edge pass whose mask covers ``area`` pixels (one row)."""
    return EdgePass(CropBox(0, 128, 0, 128), torch.zeros(128, 128), contrast, SliceMask(0, 0, np.ones((1, area), bool)))


def test_a_pass_collapses_only_when_it_shrinks_and_loses_the_edge():
    won = edge_pass(1.26, 1863)
    assert won.collapsed_into(0.36, 1241)  # smaller, and the outline lost the edge
    assert not won.collapsed_into(0.36, 1900)  # grew: re-framing found more of the object
    assert not won.collapsed_into(EDGE_CONTRAST, 1241)  # still on a clear edge
    wobble = COLLAPSE_CONTRAST * 1.26 + 0.01  # under the bar, but hardly lower than the won pass
    assert wobble < EDGE_CONTRAST and not won.collapsed_into(wobble, 1241)


@pytest.mark.parametrize("k", [2, 6])
def test_a_textured_nucleus_keeps_the_mask_its_window_won_on(k):
    """Generated large textured nuclei (never dev): the 2x window's mask is the nucleus, and
    re-framing on it used to collapse onto a chromatin patch (Dice 0.33 / 0.15 before the guard)."""
    case = textured_nuclei_case(k)
    z, yx = first_click(case.truth)
    truth = case.truth[z]
    guarded = LimNetController(case.image, spacing=case.spacing).preview(z, [yx], [])
    unguarded = LimNetController(case.image, spacing=case.spacing,
                                 prompt=PromptConfig(collapse_guard=False, reframe_guard=False)).preview(z, [yx], [])
    assert dice(unguarded, truth) < 0.45
    assert dice(guarded, truth) > 0.75
    assert guarded.sum() > 2 * unguarded.sum()
