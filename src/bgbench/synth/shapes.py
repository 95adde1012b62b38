"""Vectorised drawing primitives on coordinate grids (pure numpy, no per-pixel Python loops).

Shapes take coordinate arrays ``u, v`` (float32, any equal shape, usually the pixel grid of a window
mapped into an object's canonical frame) and return boolean arrays of the same shape.
Textures return float32 arrays in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

Point = tuple[float, float]


def ellipse(u: np.ndarray, v: np.ndarray, cu: float, cv: float, a: float, b: float,
            angle: float = 0.0) -> np.ndarray:
    """Inside of the ellipse centred at ``(cu, cv)`` with semi-axes ``a`` (along u) and ``b``, rotated by
    ``angle`` radians."""
    du, dv = u - cu, v - cv
    if angle:
        c, s = np.cos(angle), np.sin(angle)
        du, dv = c * du + s * dv, -s * du + c * dv
    return (du / a) ** 2 + (dv / b) ** 2 <= 1.0


def circle(u: np.ndarray, v: np.ndarray, cu: float, cv: float, r: float) -> np.ndarray:
    """Inside of the disc of radius ``r`` centred at ``(cu, cv)``."""
    return (u - cu) ** 2 + (v - cv) ** 2 <= r * r


def polygon(u: np.ndarray, v: np.ndarray, points: Sequence[Point]) -> np.ndarray:
    """Inside of a simple polygon (even-odd rule); the loop runs over edges, never over pixels."""
    inside = np.zeros(np.broadcast_shapes(u.shape, v.shape), dtype=bool)
    n = len(points)
    for i in range(n):
        (x0, y0), (x1, y1) = points[i], points[(i + 1) % n]
        if y0 == y1:
            continue
        crosses = (y0 > v) != (y1 > v)
        x_at = x0 + (v - y0) * ((x1 - x0) / (y1 - y0))
        inside ^= crosses & (u < x_at)
    return inside


def capsule(u: np.ndarray, v: np.ndarray, p0: Point, p1: Point, r0: float,
            r1: float | None = None) -> np.ndarray:
    """Inside of a (possibly tapered) thick segment from ``p0`` (radius ``r0``) to ``p1`` (radius ``r1``)."""
    r1 = r0 if r1 is None else r1
    du, dv = p1[0] - p0[0], p1[1] - p0[1]
    length2 = du * du + dv * dv or 1e-12
    t = np.clip(((u - p0[0]) * du + (v - p0[1]) * dv) / length2, 0.0, 1.0)
    eu, ev = u - (p0[0] + t * du), v - (p0[1] + t * dv)
    radius = r0 + (r1 - r0) * t
    return eu * eu + ev * ev <= radius * radius


def polyline(u: np.ndarray, v: np.ndarray, points: Sequence[Point], r0: float,
             r1: float | None = None) -> np.ndarray:
    """Union of capsules along ``points``; the radius tapers linearly from ``r0`` to ``r1``."""
    r1 = r0 if r1 is None else r1
    out = np.zeros(np.broadcast_shapes(u.shape, v.shape), dtype=bool)
    n = len(points) - 1
    for i in range(n):
        ra = r0 + (r1 - r0) * i / n
        rb = r0 + (r1 - r0) * (i + 1) / n
        out |= capsule(u, v, points[i], points[i + 1], ra, rb)
    return out


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells_y: int,
                 cells_x: int) -> np.ndarray:
    """Value noise: a ``(cells_y+1, cells_x+1)`` random grid bicubically upsampled to ``(height, width)``.

    The upsampling is Pillow's single-threaded C resize of a float image (fast, deterministic).
    Returns float32 (height, width) in [0, 1].
    """
    cells_y, cells_x = max(1, int(cells_y)), max(1, int(cells_x))
    grid = rng.random((cells_y + 1, cells_x + 1), dtype=np.float32)
    resized = Image.fromarray(grid, mode="F").resize((width, height), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def fractal_noise(rng: np.random.Generator, height: int, width: int, base_cells: int,
                  octaves: int = 3) -> np.ndarray:
    """Sum of :func:`smooth_noise` octaves (cells doubling, weights halving); float32 (H, W) in [0, 1]."""
    aspect = width / max(height, 1)
    total = np.zeros((height, width), dtype=np.float32)
    weight_sum = 0.0
    for octave in range(octaves):
        cells = base_cells * 2 ** octave
        weight = 0.5 ** octave
        total += weight * smooth_noise(rng, height, width, cells, max(1, round(cells * aspect)))
        weight_sum += weight
    return total / weight_sum


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Blend colours: ``a + (b - a) * t``; ``a, b`` RGB (3,) colours or (H, W, 3) images, ``t`` (H, W).

    Returns a new float32 (H, W, 3) array. Works channel by channel: numpy broadcasting with a
    length-3 last axis is several times slower.
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    out = np.empty((*t.shape, 3), dtype=np.float32)
    for c in range(3):
        ac, bc = a[..., c], b[..., c]
        np.multiply(t, bc - ac, out=out[..., c])
        out[..., c] += ac
    return out


def shade(image: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Multiply a float32 (H, W, 3) image in place by a (H, W) factor, channel by channel; returns it."""
    for c in range(3):
        image[..., c] *= factor
    return image
