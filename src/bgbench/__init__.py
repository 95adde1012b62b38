"""bgbench: measure and reduce how much image classifiers rely on image backgrounds.

The public API is re-exported lazily from the stage modules so that ``import bgbench`` stays
cheap (no torch import until a model is needed).
"""

from __future__ import annotations

from bgbench.lazy import lazy_attributes

__version__ = "0.1.0"

# name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "BgbenchError": "bgbench.errors",
    "IN9_CLASSES": "bgbench.classes",
    "VARIANTS": "bgbench.layout",
    "resolve_device": "bgbench.devices",
    "create_classifier": "bgbench.models",
    "list_models": "bgbench.models.registry",
    "synthesize": "bgbench.synth",
    "build_dataset": "bgbench.builder",
    "BuildConfig": "bgbench.builder",
    "BuildRun": "bgbench.builder",
    "evaluate": "bgbench.eval",
    "EvalResult": "bgbench.eval",
    "EvalConfig": "bgbench.eval",
    "ModelOptions": "bgbench.options",
    "ReadyModel": "bgbench.predict",
    "CacheChoice": "bgbench.config",
    "ImageSubset": "bgbench.config",
    "load_results": "bgbench.results",
    "DEFAULT_MODEL": "bgbench.options",
    "sweep": "bgbench.sweeps",
    "SweepResult": "bgbench.sweeps",
    "SweepConfig": "bgbench.sweeps",
    "run_challenge": "bgbench.challenge",
    "ChallengeConfig": "bgbench.challenge",
    "download_in9": "bgbench.download",
    "train": "bgbench.training",
    "TrainConfig": "bgbench.training",
    "report": "bgbench.reporting",
    "ReportResult": "bgbench.reporting",
    "saliency": "bgbench.explain",
    "probe": "bgbench.explain",
    "SaliencyResult": "bgbench.explain",
    "ProbeResult": "bgbench.explain",
    "SaliencyConfig": "bgbench.explain",
    "ProbeConfig": "bgbench.explain",
}

__all__ = ["__version__", *_LAZY]


# pure array modules reachable as attributes after a bare ``import bgbench`` (imported on first access)
_SUBMODULES = ("variants", "composite", "metrics", "labelmap", "stats", "classes", "layout")


__getattr__ = lazy_attributes(__name__, _LAZY, _SUBMODULES)
