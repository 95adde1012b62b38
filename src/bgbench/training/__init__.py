"""Training: full training / fine-tuning and last-layer retraining on any variant, with the
background-swap augmentation (:mod:`bgbench.augment`). Public API: :func:`train` -> :class:`TrainResult`;
the recipe is :class:`Recipe` (defaults documented in :mod:`bgbench.training.recipe`)."""

from bgbench.training.recipe import Recipe
from bgbench.training.result import TrainResult
from bgbench.training.run import EvalPlan, Swap, train

__all__ = ["EvalPlan", "Recipe", "Swap", "TrainResult", "train"]
