"""Adapt the networks to the user's data, on the CPU (Qt-free).

    from napari_limnet.adaptation import adapt
    models = adapt(volume, labels, spacing=(dz, dy, dx), seconds=180.0, seed=0)
    ctrl = LimNetController(volume, spacing=(dz, dy, dx), models=models)

    # no objects yet: learn on the image's own blob-like pseudo-objects (nuclei, cells), if they suit it
    from napari_limnet.adaptation import learn_label_free, pseudo_objects
    labels, report = pseudo_objects(volume, spacing)       # report.suitable, report.text()
    models, learn_report, report = learn_label_free(volume, spacing, seconds=180.0)
"""

from .adapt import adapt, plan_steps
from .label_free import learn_label_free
from .pseudo_labels import PseudoReport, pseudo_objects
from .recipe import DEFAULT_RECIPE, AdaptRecipe
from .report import LearnReport, learn_with_report
from .weights_file import load_adapted, models_digest, save_adapted

__all__ = ["adapt", "plan_steps", "learn_label_free", "pseudo_objects", "PseudoReport", "AdaptRecipe", "DEFAULT_RECIPE",
           "LearnReport", "learn_with_report", "load_adapted", "models_digest", "save_adapted"]
