"""The typed settings of :func:`bgbench.saliency` (:class:`SaliencyConfig`) and :func:`bgbench.probe`
(:class:`ProbeConfig`).

Each is a frozen dataclass checked when it is made: a bad value is a one-line
:class:`~bgbench.errors.BgbenchError` naming the field (numbers by :func:`bgbench.config.check_numbers`),
raised before any data is read or any model loaded. The command line builds them from its option groups
(:mod:`bgbench.cli.saliency`, :mod:`bgbench.cli.probe`). This module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bgbench.config import CacheChoice, ImageSubset, check_numbers, number
from bgbench.errors import BgbenchError

#: attribution methods of :func:`bgbench.saliency` (Captum: see :mod:`bgbench.explain.attribution`)
METHODS: tuple[str, ...] = ("saliency", "smoothgrad", "ig", "gradcam")
#: probe kinds of :func:`bgbench.probe`
KINDS: tuple[str, ...] = ("position", "scale", "noise")
#: scale probe: foreground scale factors (1 = as photographed)
DEFAULT_FACTORS: tuple[float, ...] = (0.5, 0.625, 0.75, 0.875, 1.0, 1.125, 1.25, 1.375, 1.5)
#: noise probe: Gaussian noise std on the [0, 1] scale
DEFAULT_SIGMAS: tuple[float, ...] = (0.125, 0.25, 0.5, 0.75)


def _shared(config: Any) -> None:
    """Checks both configs share: ``split`` a non-empty string, ``subset`` an ImageSubset and
    ``cache`` a CacheChoice."""
    if not isinstance(config.split, str) or not config.split:
        raise BgbenchError(f"--split must be a folder name, got {config.split!r}")
    if not isinstance(config.subset, ImageSubset):
        raise BgbenchError(f"subset must be a bgbench.ImageSubset, got {type(config.subset).__name__}")
    if not isinstance(config.cache, CacheChoice):
        raise BgbenchError(f"cache must be a bgbench.CacheChoice, got {type(config.cache).__name__}")


def _numbers(name: str, values: Any) -> tuple[float, ...]:
    """``values`` (any iterable of numbers) as a tuple of floats; a one-line BgbenchError otherwise."""
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise BgbenchError(f"--{name} must be a list of numbers, got {values!r}") from exc


@dataclass(frozen=True)
class SaliencyConfig:
    """Settings of :func:`bgbench.saliency` (defaults: the command line's).

    - ``method``: the attribution method, one of :data:`METHODS` (saliency, smoothgrad, ig, gradcam).
    - ``samples``: SmoothGrad's noisy copies per image (>= 1); ``stdev``: their Gaussian noise std
      on the [0, 1] image scale (>= 0).
    - ``steps``: integrated gradients' integration steps (>= 1).
    - ``layer``: Grad-CAM's layer, a dotted module name (None: the network's last ``Conv2d``).
    - ``batch_size``: images (or noisy copies, IG steps) per forward pass (>= 1); SmoothGrad's
      result depends on it too (the noise is drawn per pass).
    - ``subset``: which images (:class:`~bgbench.config.ImageSubset`; default all); its ``seed``
      also seeds torch's generator for SmoothGrad's noise (each model draws the same sequence).
    - ``split``: the split folder read (``original/<split>`` with ``fg_mask/<split>``).
    - ``figure_images``: rows of the overlay grid figure (>= 0; 0 = none).
    - ``cache``: the decoded-image cache (:class:`~bgbench.config.CacheChoice`).
    """

    method: str = "smoothgrad"
    samples: int = number(16, low=1)
    stdev: float = number(0.15, low=0, whole=False)
    steps: int = number(32, low=1)
    layer: str | None = None
    batch_size: int = number(16, low=1)
    subset: ImageSubset = ImageSubset()
    split: str = "val"
    figure_images: int = number(6, low=0)
    cache: CacheChoice = CacheChoice()

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise BgbenchError(
                f"unknown attribution method {self.method!r} (expected one of {', '.join(METHODS)})"
            )
        check_numbers(self)
        if self.layer is not None and not isinstance(self.layer, str):
            raise BgbenchError(f"--layer must be a dotted module name, got {self.layer!r}")
        _shared(self)

    @property
    def seed(self) -> int:
        """The seed of torch's generator for SmoothGrad's noise: ``subset.seed``."""
        return self.subset.seed

    def attribution_json(self) -> dict[str, Any]:
        """The attribution settings as saliency.json records them (``attribution``): the method,
        the batch size and the method's own parameters (the subset is recorded under
        ``data.selection``)."""
        params: dict[str, Any] = {"method": self.method, "batch_size": self.batch_size}
        if self.method == "smoothgrad":
            params.update(samples=self.samples, stdev=self.stdev, noise="gaussian on the [0, 1] image",
                          seed=self.seed)
        if self.method == "ig":
            params.update(steps=self.steps, baseline="black image (zeros)")
        if self.method == "gradcam":
            params.update(layer=self.layer, relu=True, upsample="bilinear")
        return params


@dataclass(frozen=True)
class ProbeConfig:
    """Settings of :func:`bgbench.probe` (defaults: the command line's; ``kind`` has none).

    - ``kind``: ``position`` (the foreground moved over a ``grid`` x ``grid`` of places on its own
      ``only_bg_t``, plus in place), ``scale`` (rescaled by each of ``factors`` about its box's
      centre) or ``noise`` (Gaussian noise of each std in ``sigmas`` on the foreground or the
      background only; gives RFS).
    - ``split``: the split folder read (``original``, ``fg_mask`` and, for position and scale,
      ``only_bg_t``).
    - ``batch_size``: composites per forward pass (>= 1).
    - ``grid``: position: cells per side (>= 2).
    - ``factors``: scale: factors (> 0; 1 = as photographed); stored as a tuple of floats.
    - ``sigmas``: noise: std on the [0, 1] scale (> 0); stored as a tuple of floats.
    - ``subset``: which images (:class:`~bgbench.config.ImageSubset`; default all); its ``seed``
      also seeds the noise fields (one per image).
    - ``cache``: the decoded-image cache (:class:`~bgbench.config.CacheChoice`).
    """

    kind: str
    split: str = "val"
    batch_size: int = number(64, low=1)
    grid: int = number(3, low=2)
    factors: tuple[float, ...] = DEFAULT_FACTORS
    sigmas: tuple[float, ...] = DEFAULT_SIGMAS
    subset: ImageSubset = ImageSubset()
    cache: CacheChoice = CacheChoice()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BgbenchError(f"unknown probe kind {self.kind!r} (expected one of {', '.join(KINDS)})")
        check_numbers(self)
        object.__setattr__(self, "factors", _numbers("factors", self.factors))
        object.__setattr__(self, "sigmas", _numbers("sigmas", self.sigmas))
        if self.kind == "scale" and (not self.factors or not min(self.factors) > 0):
            raise BgbenchError(f"scale factors must be positive, got {list(self.factors)}")
        if self.kind == "noise" and (not self.sigmas or not min(self.sigmas) > 0):
            raise BgbenchError(f"noise strengths must be positive, got {list(self.sigmas)}")
        _shared(self)

    def settings(self) -> dict[str, Any]:
        """The kind's settings as probe.json records them (``settings``)."""
        if self.kind == "position":
            return {"grid": self.grid, "background": "the image's own only_bg_t"}
        if self.kind == "scale":
            return {
                "factors": list(self.factors),
                "background": "the image's own only_bg_t",
                "about": "the foreground box's centre; parts leaving the frame are cut",
            }
        return {
            "sigmas": list(self.sigmas),
            "seed": self.subset.seed,
            "noise": "Gaussian, std sigma on the [0, 1] scale, clipped, one field per image",
        }

