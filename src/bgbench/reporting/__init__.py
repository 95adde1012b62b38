"""``bgbench report``: one self-contained HTML page (and a Markdown twin) from any bgbench results.

Modules: :mod:`~bgbench.reporting.collect` (read and organize the results), :mod:`~bgbench.reporting.rows`
(one row per model), :mod:`~bgbench.reporting.sections` / :mod:`~bgbench.reporting.sections_runs` /
:mod:`~bgbench.reporting.sections_provenance` (section data, pure), :mod:`~bgbench.reporting.compose` (which
sections), :mod:`~bgbench.reporting.figures` (matplotlib, in :mod:`bgbench.plotting`'s style),
:mod:`~bgbench.reporting.render` (Jinja2), :mod:`~bgbench.reporting.run` (:func:`report`).

The entry point is :func:`report`, also ``bgbench.report`` (the package is ``bgbench.reporting``).
"""

from __future__ import annotations

from bgbench.reporting.result import ReportResult
from bgbench.reporting.run import report

__all__ = ["ReportResult", "report"]
