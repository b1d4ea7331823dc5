"""Adapt the networks to the user's data, on the CPU (Qt-free).

    from napari_limnet.adaptation import adapt
    models = adapt(volume, labels, spacing=(dz, dy, dx), seconds=180.0, seed=0)
    ctrl = LimNetController(volume, spacing=(dz, dy, dx), models=models)
"""

from .adapt import adapt, plan_steps
from .recipe import DEFAULT_RECIPE, AdaptRecipe
from .report import LearnReport, learn_with_report
from .weights_file import load_adapted, models_digest, save_adapted

__all__ = ["adapt", "plan_steps", "AdaptRecipe", "DEFAULT_RECIPE", "LearnReport", "learn_with_report", "load_adapted",
           "models_digest", "save_adapted"]
