"""Typed results: the :class:`Result` base every entry point returns, :func:`load_results`, and the
blocks (lines and :class:`TextTable`) a result shows on a terminal."""

from bgbench.results.base import DocumentResult, Result
from bgbench.results.load import (
    check_renamed,
    load_results,
    register_result,
    result_class,
    result_filenames,
)
from bgbench.results.text import TextTable

__all__ = ["DocumentResult", "Result", "TextTable", "check_renamed", "load_results", "register_result",
           "result_class", "result_filenames"]
