"""Typed results: the :class:`Result` base every entry point returns, and :func:`load_results`."""

from bgbench.results.base import DocumentResult, Result
from bgbench.results.load import load_results, register_result, result_class, result_filenames

__all__ = ["DocumentResult", "Result", "load_results", "register_result", "result_class", "result_filenames"]
