"""Compose one synthetic scene: a habitat background with one or two foreground objects (pure).

Everything random is drawn from one :class:`numpy.random.Generator` seeded from
``(seed, split, label, index)``, so a scene is a pure function of those four numbers and the options.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bgbench.synth.habitats import render_habitat
from bgbench.synth.objects import draw_pose, render_object

Box = tuple[int, int, int, int]

NUM_CLASSES = 9
ASPECT_RATIOS: tuple[tuple[int, int], ...] = ((1, 1), (4, 3), (3, 4), (3, 2), (2, 3))
"""(width, height) ratios; the shorter side is always ``size`` pixels."""
SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1}
TWO_OBJECT_PROBABILITY = 0.2
BOX_FRACTION_ONE = (0.12, 0.4)
"""Range of the target box area of a single object, as a fraction of the image area."""
BOX_FRACTION_TWO = (0.06, 0.14)
SENSOR_NOISE = 5
"""Uniform integer grain in [-SENSOR_NOISE, SENSOR_NOISE] added to every pixel and channel."""


@dataclass(frozen=True, eq=False)
class Scene:
    """One rendered scene.

    ``image``: uint8 (H, W, 3) RGB. ``mask``: uint8 (H, W), 0 = background, k = object k (1-based).
    ``boxes[k-1]``: tight (xmin, ymin, xmax, ymax) box of ``mask == k``, inclusive 0-based pixel corners.
    ``truncated[k-1]``: the object touches the image border. ``areas[k-1]``: its pixel count.
    """

    label: int
    habitat: int
    image: np.ndarray
    mask: np.ndarray
    boxes: tuple[Box, ...]
    truncated: tuple[bool, ...]
    areas: tuple[int, ...]

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def scene_rng(seed: int, split: str, label: int, index: int) -> np.random.Generator:
    """The generator of image ``index`` of class ``label`` in ``split`` (independent streams)."""
    entropy = [int(seed), SPLIT_CODES[split], int(label), int(index)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def choose_habitat(label: int, rng: np.random.Generator, bg_correlation: float) -> int:
    """Habitat of a class-``label`` scene: ``label`` with probability ``bg_correlation``, otherwise one of
    the other eight uniformly, so P(habitat == label) is exactly ``bg_correlation`` (1/9 = independent)."""
    if rng.random() < bg_correlation:
        return int(label)
    other = int(rng.integers(NUM_CLASSES - 1))
    return other + (other >= label)


def image_shape(rng: np.random.Generator, size: int) -> tuple[int, int]:
    """(height, width) with the shorter side ``size`` and a random aspect ratio from ASPECT_RATIOS."""
    aw, ah = ASPECT_RATIOS[int(rng.integers(len(ASPECT_RATIOS)))]
    if aw >= ah:
        return size, int(round(size * aw / ah))
    return int(round(size * ah / aw)), size


def tight_box(region: np.ndarray) -> Box | None:
    """Inclusive (xmin, ymin, xmax, ymax) of the True pixels of a bool (H, W) array; None when empty."""
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(region.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def _centre(rng: np.random.Generator, lo: float, hi: float, radius: float, spread: float) -> float:
    """A centre near the middle of [lo, hi], kept so [c - radius, c + radius] stays inside when possible."""
    mid = (lo + hi) / 2
    c = mid + rng.normal(0.0, spread * (hi - lo))
    if hi - lo <= 2 * radius:
        return mid
    return float(np.clip(c, lo + radius, hi - radius))


def render_scene(label: int, rng: np.random.Generator, *, size: int = 256,
                 bg_correlation: float = 0.9) -> Scene:
    """Render one class-``label`` scene whose shorter side is ``size`` pixels."""
    habitat = choose_habitat(label, rng, bg_correlation)
    height, width = image_shape(rng, size)
    n_objects = 2 if rng.random() < TWO_OBJECT_PROBABILITY else 1

    poses = []
    if n_objects == 1:
        frac = rng.uniform(*BOX_FRACTION_ONE)
        scale = min(np.sqrt(frac * width * height / 1.2), 0.55 * min(width, height))
        pose = draw_pose(rng, label, 0.0, 0.0, float(scale))
        cx = _centre(rng, 0, width, pose.radius, 0.08)
        cy = _centre(rng, 0, height, pose.radius, 0.08)
        poses.append(replace(pose, cx=cx, cy=cy))
    else:
        horizontal = width >= height
        along = width if horizontal else height
        across = height if horizontal else width
        for k in range(2):
            frac = rng.uniform(*BOX_FRACTION_TWO)
            pose = draw_pose(rng, label, 0.0, 0.0, 1.0)
            limit = 0.5 * min(along / 2, across) / max(pose.stretch)
            scale = float(min(np.sqrt(frac * width * height / 1.2), limit))
            radius = scale * max(pose.stretch)
            a = _centre(rng, k * along / 2, (k + 1) * along / 2, radius, 0.1)
            b = _centre(rng, 0, across, radius, 0.1)
            cx, cy = (a, b) if horizontal else (b, a)
            poses.append(replace(pose, cx=cx, cy=cy, scale=scale))

    canvas = render_habitat(habitat, rng, height, width)
    instance = np.zeros((height, width), dtype=np.uint8)
    for k, pose in enumerate(poses, start=1):
        (y0, x0), obj_mask, rgb = render_object(label, pose, rng, height, width)
        h, w = obj_mask.shape
        window = instance[y0:y0 + h, x0:x0 + w]
        free = obj_mask & (window == 0)  # an earlier object stays on top (placements keep them apart)
        canvas[y0:y0 + h, x0:x0 + w][free] = rgb[free]
        window[free] = k

    # Boxes from the final instance mask; an invisible object (fully clipped) is dropped and the
    # remaining ones renumbered 1..K in drawing order.
    boxes: list[Box] = []
    truncated: list[bool] = []
    areas: list[int] = []
    for k in range(1, len(poses) + 1):
        region = instance == k
        box = tight_box(region)
        if box is None:
            continue
        instance[region] = len(boxes) + 1
        boxes.append(box)
        truncated.append(box[0] == 0 or box[1] == 0 or box[2] == width - 1 or box[3] == height - 1)
        areas.append(int(region.sum()))

    canvas += rng.integers(-SENSOR_NOISE, SENSOR_NOISE + 1, canvas.shape, dtype=np.int8)  # sensor grain
    image = np.clip(canvas, 0, 255).astype(np.uint8)
    return Scene(label=label, habitat=habitat, image=image, mask=instance, boxes=tuple(boxes),
                 truncated=tuple(truncated), areas=tuple(areas))
