"""Nine background habitats (textures, gradients, structured clutter), one typical of each IN-9 class.

Each habitat is a pure function ``(rng, height, width) -> float32 (H, W, 3)`` with values in [0, 255]
(before clipping). Colours, frequencies and layouts vary per image, but each habitat keeps its own
palette and structure, which is exactly the background shortcut the benchmark plants.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from bgbench.synth.shapes import fractal_noise, mix, smooth_noise

HabitatFn = Callable[[np.random.Generator, int, int], np.ndarray]

HABITATS: tuple[str, ...] = (
    "meadow", "sky", "street", "desert", "forest", "flowerbed", "room", "jungle", "underwater",
)
"""Habitat names; habitat ``i`` is the typical background of IN-9 class ``i``."""


def _jitter(rng: np.random.Generator, colour: tuple[float, float, float], amount: float = 12.0) -> np.ndarray:
    return np.asarray(colour, dtype=np.float32) + rng.normal(0.0, amount, 3).astype(np.float32)


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates: y (H, 1) in [0, 1], x (1, W) in [0, W/H]."""
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, width / height, width, dtype=np.float32)[None, :]
    return y, x


def _dots(rng: np.random.Generator, height: int, width: int, cell: int,
          radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Jittered-grid discs, one per ``cell``-pixel square.

    Returns (bool (H, W) inside a disc, int32 (H, W) cell id).
    """
    rows, cols = height // cell + 1, width // cell + 1
    oy = rng.uniform(radius, cell - radius, (rows, cols)).astype(np.float32)
    ox = rng.uniform(radius, cell - radius, (rows, cols)).astype(np.float32)

    def spread(per_cell: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(per_cell, cell, axis=0), cell, axis=1)[:height, :width]

    dy = (np.arange(height, dtype=np.float32) % cell)[:, None] - spread(oy)
    dx = (np.arange(width, dtype=np.float32) % cell)[None, :] - spread(ox)
    inside = dy * dy + dx * dx <= np.float32(radius * radius)
    return inside, spread(np.arange(rows * cols, dtype=np.int32).reshape(rows, cols))


def meadow(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Green lawn: yellow-green gradient, vertical grass blades, darker patches."""
    y, _ = _grid(height, width)
    far, near = _jitter(rng, (150, 190, 90)), _jitter(rng, (60, 140, 40))
    img = mix(far, near, np.broadcast_to(y, (height, width)))
    blades = smooth_noise(rng, height, width, max(2, height // 24), max(8, width // 3))
    patches = fractal_noise(rng, height, width, 3)
    img *= (0.75 + 0.4 * blades * patches + 0.15 * patches)[..., None]
    return img


def sky(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Open sky: deep blue to pale horizon gradient with soft white clouds."""
    y, _ = _grid(height, width)
    top, horizon = _jitter(rng, (40, 100, 200)), _jitter(rng, (170, 205, 240))
    img = mix(top, horizon, np.broadcast_to(y ** 0.8, (height, width)))
    clouds = fractal_noise(rng, height, width, 2, 3)
    cover = rng.uniform(0.45, 0.65)
    amount = np.clip((clouds - cover) * 3.5, 0, 1)
    return mix(img, _jitter(rng, (248, 248, 250), 5), amount)


def street(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Town street: facades of varying height and colour above grey asphalt with a dashed lane line."""
    horizon = int(height * rng.uniform(0.45, 0.6))
    n_blocks = int(rng.integers(3, 7))
    edges = np.sort(rng.integers(1, width, n_blocks - 1))
    block = np.searchsorted(edges, np.arange(width), side="right")
    tops = rng.uniform(0.0, 0.35, n_blocks) * horizon
    palette = np.asarray([(180, 90, 70), (200, 190, 170), (120, 120, 130), (210, 170, 110), (90, 100, 120)],
                         dtype=np.float32)
    colours = palette[rng.integers(len(palette), size=n_blocks)] + rng.normal(0, 10, (n_blocks, 3))
    yy = np.arange(height)[:, None]
    xx = np.arange(width)[None, :]
    img = np.empty((height, width, 3), dtype=np.float32)
    img[:] = _jitter(rng, (150, 180, 210))  # sky above the roofs
    facade = (yy >= tops[block][None, :]) & (yy < horizon)
    img[facade] = np.broadcast_to(colours[block][None, :, :], (height, width, 3))[facade]
    win = max(4, height // 16)
    windows = (facade & ((yy % win) < win * 0.55) & ((xx % win) < win * 0.5)
               & (yy > tops[block][None, :] + win))
    img[windows] = _jitter(rng, (60, 70, 90))
    road = yy >= horizon
    asphalt = 95 + 25 * fractal_noise(rng, height, width, 8, 2)
    img[np.broadcast_to(road, (height, width))] = np.broadcast_to(
        asphalt[..., None], (height, width, 3))[np.broadcast_to(road, (height, width))]
    lane_y = horizon + (height - horizon) * rng.uniform(0.45, 0.7)
    dash = max(6, width // 8)
    lane = (np.abs(yy - lane_y) < max(1.5, height / 90)) & ((xx % dash) < dash * 0.6)
    img[lane] = _jitter(rng, (240, 230, 200), 5)
    return img


def desert(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Sand dunes: warm ochre bands bent by noise, with pale ripples."""
    y, x = _grid(height, width)
    sand, shadow = _jitter(rng, (225, 190, 130)), _jitter(rng, (180, 130, 80))
    warp = smooth_noise(rng, height, width, 2, 3)
    dunes = 0.5 + 0.5 * np.sin(y * rng.uniform(8, 16) + warp * 6 + x * rng.uniform(-2, 2))
    img = mix(sand, shadow, dunes.astype(np.float32))
    ripples = np.sin(y * rng.uniform(90, 140) + warp * 20).astype(np.float32)
    img *= (1 + 0.05 * ripples)[..., None]
    sky_line = rng.uniform(0.0, 0.25)
    sky = np.broadcast_to(y < sky_line, (height, width))
    img[sky] = _jitter(rng, (150, 190, 230))
    return img


def forest(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Woodland: dark tree trunks in front of mottled green-brown foliage, leaf litter below."""
    foliage = fractal_noise(rng, height, width, 4, 3)
    img = mix(_jitter(rng, (30, 55, 25)), _jitter(rng, (95, 120, 55)), foliage)
    n_trunks = int(rng.integers(3, 7))
    centres = rng.uniform(0, width, n_trunks)
    widths = rng.uniform(0.03, 0.09, n_trunks) * width
    xx = np.arange(width, dtype=np.float32)
    trunk_cols = (np.abs(xx[None, :] - centres[:, None]) < widths[:, None] / 2).any(axis=0)
    bark = 55 + 25 * smooth_noise(rng, height, width, max(2, height // 6), max(2, width // 24))
    trunk_rgb = bark[..., None] * np.float32([1.0, 0.8, 0.6])
    img[:, trunk_cols] = trunk_rgb[:, trunk_cols]
    ground = np.arange(height)[:, None] > height * rng.uniform(0.75, 0.9)
    litter = fractal_noise(rng, height, width, 10, 2)
    ground_rgb = mix(_jitter(rng, (110, 80, 45)), _jitter(rng, (70, 50, 30)), litter)
    full = np.broadcast_to(ground, (height, width))
    img[full] = ground_rgb[full]
    return img


def flowerbed(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Flower bed: leafy green texture scattered with bright round blossoms."""
    leaves = fractal_noise(rng, height, width, 6, 2)
    img = mix(_jitter(rng, (40, 110, 40)), _jitter(rng, (120, 180, 70)), leaves)
    cell = max(6, min(height, width) // int(rng.integers(6, 10)))
    inside, cell_id = _dots(rng, height, width, cell, cell * rng.uniform(0.2, 0.32))
    palette = np.asarray([(240, 60, 120), (250, 220, 40), (250, 250, 250), (170, 60, 220), (250, 120, 30)],
                         dtype=np.float32)
    picks = palette[rng.integers(len(palette), size=int(cell_id.max()) + 1)]
    img[inside] = picks[cell_id[inside]]
    return img


def room(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Interior: striped wallpaper above a skirting board and a wooden plank floor."""
    y, x = _grid(height, width)
    floor_line = int(height * rng.uniform(0.55, 0.72))
    wall_a, wall_b = _jitter(rng, (220, 205, 180)), _jitter(rng, (190, 160, 150))
    stripes = (np.sin(x * rng.uniform(25, 60)) > 0).astype(np.float32)
    img = mix(wall_a, wall_b, np.broadcast_to(stripes, (height, width)) * 0.6)
    yy = np.arange(height)[:, None]
    board = (yy >= floor_line - max(2, height // 40)) & (yy < floor_line)
    img[np.broadcast_to(board, (height, width))] = _jitter(rng, (245, 245, 240), 4)
    plank = max(4, height // 14)
    wood = _jitter(rng, (160, 105, 60))
    grain = smooth_noise(rng, height, width, max(2, height // 4), 3)
    floor_rgb = wood * (0.8 + 0.3 * grain)[..., None]
    seams = ((yy - floor_line) % plank) == 0
    floor_rgb[np.broadcast_to(seams, (height, width))] *= 0.6
    floor = np.broadcast_to(yy >= floor_line, (height, width))
    img[floor] = floor_rgb[floor]
    return img


def jungle(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Rain forest: dense overlapping leaves in many greens, dark gaps and hanging vines."""
    img = mix(_jitter(rng, (10, 35, 15)), _jitter(rng, (30, 70, 30)), fractal_noise(rng, height, width, 3, 2))
    for cell in (max(8, height // 5), max(6, height // 8)):
        inside, cell_id = _dots(rng, height, width, cell, cell * 0.45)
        greens = rng.uniform([20, 90, 20], [90, 170, 70], (int(cell_id.max()) + 1, 3)).astype(np.float32)
        img[inside] = greens[cell_id[inside]]
    xx = np.arange(width)[None, :]
    yy = np.arange(height)[:, None]
    phase = rng.uniform(0, 6.3)
    vines = np.abs(np.sin((xx + 0.3 * yy) * (2 * np.pi / max(12, width / 4)) + phase)) < 0.06
    img[np.broadcast_to(vines, (height, width))] = _jitter(rng, (70, 55, 30))
    return img


def underwater(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Under water: teal-to-deep-blue gradient, shimmering caustics and a few bubbles."""
    y, x = _grid(height, width)
    img = mix(_jitter(rng, (40, 170, 190)), _jitter(rng, (10, 50, 110)), np.broadcast_to(y, (height, width)))
    warp = smooth_noise(rng, height, width, 3, 3) * 8
    freq = rng.uniform(20, 35)
    caustic = np.abs(np.sin(x * freq + warp)) * np.abs(np.sin(y * freq * 0.8 + warp * 1.3))
    img += (60 * np.clip(caustic - 0.6, 0, 1) * (1.2 - y)).astype(np.float32)[..., None]
    cell = max(8, height // 6)
    bubbles, _ = _dots(rng, height, width, cell, cell * 0.08)
    img[bubbles] = _jitter(rng, (200, 235, 245), 5)
    return img


HABITAT_FUNCTIONS: tuple[HabitatFn, ...] = (
    meadow, sky, street, desert, forest, flowerbed, room, jungle, underwater,
)


HALF_RESOLUTION_FROM = 128
"""Backgrounds whose shorter side is at least this are rendered at half resolution and upsampled."""


def render_habitat(habitat: int, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Background of habitat ``habitat`` (0..8): float32 (height, width, 3) in [0, 255].

    From HALF_RESOLUTION_FROM pixels up it is rendered at half resolution and bicubically upsampled
    (Pillow, C): four times cheaper, and the slight softness reads as a defocused background behind the
    sharp foreground objects.
    """
    if min(height, width) < HALF_RESOLUTION_FROM:
        return np.clip(HABITAT_FUNCTIONS[habitat](rng, height, width), 0, 255).astype(np.float32, copy=False)
    small = HABITAT_FUNCTIONS[habitat](rng, (height + 1) // 2, (width + 1) // 2)
    small_u8 = np.clip(small, 0, 255).astype(np.uint8)
    image = Image.fromarray(small_u8).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32)
