"""``bgbench build``: the IN-9 variants of any boxed or masked image source, resumable and parallel.

Public API: :func:`build_dataset` (returns a :class:`BuildResult`), :class:`BuildConfig`, :data:`PRESETS`,
:func:`read_manifest`.
"""

from bgbench.builder.manifest import read_manifest
from bgbench.builder.pipeline import PRESETS, BuildConfig, build_dataset
from bgbench.builder.result import BuildResult

__all__ = ["PRESETS", "BuildConfig", "BuildResult", "build_dataset", "read_manifest"]
