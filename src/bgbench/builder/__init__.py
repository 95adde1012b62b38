"""``bgbench build``: the IN-9 variants of any boxed or masked image source, resumable and parallel.

Public API: :func:`build_dataset` (returns a :class:`BuildResult`), ``build_dataset(source, out, config,
*, quiet)`` with a :class:`BuildConfig` (its :class:`BuildRun`: executor and workers; :data:`PRESETS`),
:func:`read_manifest`.
"""

from bgbench.builder.config import PRESETS, BuildConfig, BuildRun
from bgbench.builder.manifest import read_manifest
from bgbench.builder.pipeline import build_dataset
from bgbench.builder.result import BuildResult

__all__ = ["PRESETS", "BuildConfig", "BuildResult", "BuildRun", "build_dataset", "read_manifest"]
