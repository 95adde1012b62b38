"""Sweeps: many models on one dataset, one combined table (``bgbench sweep MODELS DATA``).

Public API: :func:`sweep` -> :class:`SweepResult` (``sweep.json``, schema bgbench.sweep/1, with
``sweep.csv`` and ``sweep.md``). Modules: :mod:`~bgbench.sweeps.config` (the settings and the models file),
:mod:`~bgbench.sweeps.run` (the resumable loop and its executors), :mod:`~bgbench.sweeps.gather`
(rows from each model's eval.json / challenge.json), :mod:`~bgbench.sweeps.trend` (Spearman of
ImageNet top-1 against each variant and the BG-Gap), :mod:`~bgbench.sweeps.table` (text, markdown,
CSV) and :mod:`~bgbench.sweeps.result`. See docs/sweep.md.
"""

from bgbench.sweeps.config import (
    SweepConfig,
    SweepModel,
    models_toml,
    read_models_toml,
    sweep_models,
    zoo_models,
)
from bgbench.sweeps.gather import ChallengeOutcome, challenge_outcome, collect
from bgbench.sweeps.result import SweepResult
from bgbench.sweeps.run import sweep

__all__ = ["ChallengeOutcome", "SweepConfig", "SweepModel", "SweepResult", "challenge_outcome", "collect",
           "models_toml", "read_models_toml", "sweep", "sweep_models", "zoo_models"]
