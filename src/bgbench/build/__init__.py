"""``bgbench build``: the IN-9 variants of any boxed or masked image source, resumable and parallel.

Public API: :func:`build_dataset` (returns a :class:`BuildResult`), :class:`BuildConfig`, :data:`PRESETS`,
:func:`read_manifest`.
"""

from bgbench.build.manifest import read_manifest
from bgbench.build.pipeline import PRESETS, BuildConfig, build_dataset
from bgbench.build.result import BuildResult

__all__ = ["PRESETS", "BuildConfig", "BuildResult", "build_dataset", "read_manifest"]
