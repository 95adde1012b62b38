"""Training: full training / fine-tuning and last-layer retraining on any variant, with the
background-swap augmentation (:mod:`bgbench.augment`). Public API: :func:`train` -> :class:`TrainResult`,
``train(data, model, config, *, out, quiet)``; the settings are a :class:`TrainConfig`
(:mod:`bgbench.training.config`) holding the :class:`Recipe` (defaults documented in
:mod:`bgbench.training.recipe`), the augmentation of a run :class:`Swap`, its evaluation :class:`EvalPlan`.

Names load lazily, so reading the recipe (``bgbench train --help``) imports no torch.
"""

from __future__ import annotations

from bgbench.lazy import lazy_attributes

_LAZY = {"Recipe": "bgbench.training.recipe", "TrainResult": "bgbench.training.result",
         "EvalPlan": "bgbench.training.config", "Swap": "bgbench.training.config",
         "TrainConfig": "bgbench.training.config", "train": "bgbench.training.run"}

__all__ = sorted(_LAZY)


__getattr__ = lazy_attributes(__name__, _LAZY)
