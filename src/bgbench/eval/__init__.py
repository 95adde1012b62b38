"""Evaluation of a classifier on every variant: accuracy with intervals, BG-Gap, per-class.

Public API: :func:`evaluate` (settings in :class:`EvalConfig`) -> :class:`EvalResult` (``eval.json`` and
``eval.csv``, schema bgbench.eval/1). Modules: :mod:`~bgbench.eval.config` (the settings),
:mod:`~bgbench.eval.run` (the loop and its resume key), :mod:`~bgbench.eval.draws`
(``--draws``), :mod:`~bgbench.eval.groups` (foreground x background tables), :mod:`~bgbench.eval.result`
(the result) and :mod:`~bgbench.eval.table` (its tables); resume files go through :mod:`bgbench.resume`.
The tree is read through :mod:`bgbench.data`; the label-space policy and inference live in
:mod:`bgbench.predict`, shared with the challenge.
"""

from bgbench.eval.config import EvalConfig
from bgbench.eval.result import RESULTS_SCHEMA, EvalResult, VariantResult
from bgbench.eval.run import evaluate, paired_bg_gap

__all__ = ["RESULTS_SCHEMA", "EvalConfig", "EvalResult", "VariantResult", "evaluate", "paired_bg_gap"]
