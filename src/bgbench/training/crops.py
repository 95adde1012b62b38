"""Batched random-resized crops and flips on the device (one affine resampling per batch)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def working_size(size: int, scale: tuple[float, float]) -> int:
    """The side an image needs for crops of area fraction >= ``scale[0]`` resized to ``size`` without
    upsampling the smallest crop: ``ceil(size / sqrt(scale[0]))`` (``size`` itself for no crop)."""
    return math.ceil(size / math.sqrt(scale[0]))


def random_resized_crop(
    x: torch.Tensor,
    size: int,
    scale: tuple[float, float],
    generator: torch.Generator | None = None,
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip: bool = True,
    draws: torch.Tensor | None = None,
) -> torch.Tensor:
    """Crop each image of ``x`` (float (N, 3, H, W)) to a random box of area fraction in ``scale``
    and aspect ratio in ``ratio`` (log-uniform; ``scale`` (1, 1): no crop), resize it to ``size`` x
    ``size`` (bilinear) and flip it horizontally with probability 1/2 when ``flip``. Draws come
    from ``draws`` (float (N, 5) uniforms in [0, 1): area, log aspect, x, y, flip; one row per image,
    see :mod:`bgbench.training.draws`) or else from ``generator`` (CPU), so a seed fixes every crop.
    Images larger than the smallest crop needs are first shrunk with an antialiased resize
    (grid_sample itself does not antialias).
    Returns float (N, 3, size, size): ``x`` itself when there is nothing to do (no crop, no flip,
    already ``size``)."""
    if scale == (1.0, 1.0) and not flip and tuple(x.shape[-2:]) == (size, size):
        return x  # nothing to crop, flip or resize (and nothing drawn from the generator either)
    n = x.shape[0]
    u = draws.cpu().float() if draws is not None else torch.rand((n, 5), generator=generator)
    working = min(x.shape[-1], working_size(size, scale))
    if x.shape[-1] > working or x.shape[-2] > working:  # antialiased shrink first: grid_sample does not
        x = F.interpolate(x, size=(working, working), mode="bilinear", align_corners=False, antialias=True)
    if scale == (1.0, 1.0):  # no crop: the whole image, resized, optionally flipped
        sign = torch.where(u[:, 4] < 0.5, -1.0, 1.0) if flip else torch.ones(n)
        theta = torch.zeros((n, 2, 3))
        theta[:, 0, 0], theta[:, 1, 1] = sign, 1.0
        grid = F.affine_grid(theta.to(x.device), [n, x.shape[1], size, size], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 1]
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (1 - w) * (2 * u[:, 2] - 1)
    cy = (1 - h) * (2 * u[:, 3] - 1)
    sign = torch.where(u[:, 4] < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    theta = torch.zeros((n, 2, 3))
    theta[:, 0, 0] = w * sign
    theta[:, 1, 1] = h
    theta[:, 0, 2] = cx
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta.to(x.device), [n, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
