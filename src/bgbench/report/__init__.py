"""``bgbench report``: one self-contained HTML page (and a Markdown twin) from any bgbench results.

Modules: :mod:`~bgbench.report.collect` (read and organize the results), :mod:`~bgbench.report.rows`
(one row per model), :mod:`~bgbench.report.sections` / :mod:`~bgbench.report.sections_runs` /
:mod:`~bgbench.report.provenance` (section data, pure), :mod:`~bgbench.report.compose` (which
sections), :mod:`~bgbench.report.figures` (matplotlib, in :mod:`bgbench.plotting`'s style),
:mod:`~bgbench.report.render` (Jinja2), :mod:`~bgbench.report.run` (:func:`report`).

``bgbench.report`` is both this package and the function: the package is callable, so
``bgbench.report(results, "report.html")`` works whether or not the package was imported first.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from bgbench.report.result import ReportResult
from bgbench.report.run import report

__all__ = ["ReportResult", "report"]


class _CallablePackage(types.ModuleType):
    """Calling the package calls :func:`report` (``bgbench.report`` names both)."""

    def __call__(self, *args: Any, **kwargs: Any) -> ReportResult:
        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
