"""Explain: where a model looks (saliency with a foreground score) and what moves it (probes).

- :func:`saliency`: Captum attribution maps (saliency, SmoothGrad, integrated gradients, Grad-CAM) of
  one or more torch models on ``original``, the share of attribution inside ``fg_mask`` and the
  foreground focus (share / mask area), with bootstrap intervals (:mod:`.saliency_run`; settings:
  :class:`SaliencyConfig`).
- :func:`probe`: accuracy with the foreground moved over a grid, rescaled, or with noise on the
  foreground or background only (RFS), for any model bgbench loads (:mod:`.probe_run`; settings:
  :class:`ProbeConfig`).

Pure pieces: :mod:`.config` (the typed settings), :mod:`.scores` (shares, focus, intervals, RFS),
:mod:`.probes` (composites); :mod:`.attribution` (Captum wrappers), :mod:`.figures` (matplotlib),
:mod:`.result` (typed results).
"""

from bgbench.explain.config import ProbeConfig, SaliencyConfig
from bgbench.explain.probe_run import probe
from bgbench.explain.result import ProbeResult, SaliencyResult
from bgbench.explain.saliency_run import saliency

__all__ = ["ProbeConfig", "ProbeResult", "SaliencyConfig", "SaliencyResult", "probe", "saliency"]
