"""The paper's findings on real photos with real ImageNet models (Xiao et al., ICLR 2021, Table 2).

:func:`run_study` builds the IN-9 variants of the real photos that have boxes, sweeps every real model
(released and restricted map rule, the challenge of the built-ins), tabulates them and runs the
paper's four checks (:mod:`.checks`), with figures (:mod:`.figures`) and a report.
``benchmarks/realdata_study.py`` is its command line; docs/realdata_study.md shows a run.

Modules: :mod:`.models` (which models), :mod:`.rows` (one row per model from the sweeps),
:mod:`.checks` (the four checks, pure, and their text), :mod:`.figures`, :mod:`.run` (the steps).
"""

from __future__ import annotations

from bgbench.study.checks import CHANCE, check_a, check_b, check_c, check_d, format_checks
from bgbench.study.models import StudyModel, select_models, study_models
from bgbench.study.rows import VARIANTS, study_rows, table_columns, table_records
from bgbench.study.run import run_study

__all__ = ["CHANCE", "VARIANTS", "StudyModel", "check_a", "check_b", "check_c", "check_d", "format_checks",
           "run_study", "select_models", "study_models", "study_rows", "table_columns", "table_records"]
