"""Nine foreground object families, one per IN-9 class, drawn as exact masks with textured colour.

Every family draws in a canonical frame: ``u`` points right (the object faces +u), ``v`` points down,
and the whole object lies inside the unit disc, so any rotation of it stays inside a square window of
half-size ``scale`` pixels around its centre. Shape proportions, colours, texture, pose (rotation,
mirroring, stretch) and scale are drawn per object from the generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import bgbench.synth.shapes as shapes
from bgbench.synth.shapes import mix, smooth_noise

Rgb = tuple[float, float, float]
FamilyFn = Callable[["Frame", np.random.Generator], tuple[np.ndarray, np.ndarray]]

OBJECT_FAMILIES: tuple[str, ...] = (
    "dog", "bird", "car or van", "snake or lizard", "cat", "beetle or butterfly", "guitar or trumpet",
    "monkey", "fish",
)
"""Object family of each IN-9 class, in class index order."""


class Frame:
    """The pixel grid of one object's window seen in the object's canonical frame.

    ``u``, ``v``: float32 (h, w) canonical coordinates of the window's pixel centres. The shape methods
    return bool (h, w) arrays but evaluate each primitive only inside the pixel square that holds its
    bounding circle (exact: the primitive is empty outside it), which keeps small parts (legs, beaks,
    antennae) cheap in a large window.
    """

    def __init__(self, u: np.ndarray, v: np.ndarray, to_pixel: Callable[[float, float], tuple[float, float]],
                 pixels_per_unit: float) -> None:
        self.u, self.v = u, v
        self.shape = u.shape
        self._to_pixel = to_pixel
        self._ppu = pixels_per_unit

    def _evaluate(self, centre: tuple[float, float], radius: float, fn: Callable[..., np.ndarray],
                  *args: object) -> np.ndarray:
        out = np.zeros(self.shape, dtype=bool)
        px, py = self._to_pixel(*centre)
        reach = radius * self._ppu + 2.0
        y0, y1 = max(0, int(py - reach)), min(self.shape[0], int(py + reach) + 2)
        x0, x1 = max(0, int(px - reach)), min(self.shape[1], int(px + reach) + 2)
        if y0 < y1 and x0 < x1:
            region = (slice(y0, y1), slice(x0, x1))
            out[region] = fn(self.u[region], self.v[region], *args)
        return out

    def ellipse(self, cu: float, cv: float, a: float, b: float, angle: float = 0.0) -> np.ndarray:
        return self._evaluate((cu, cv), max(a, b), shapes.ellipse, cu, cv, a, b, angle)

    def circle(self, cu: float, cv: float, r: float) -> np.ndarray:
        return self._evaluate((cu, cv), r, shapes.circle, cu, cv, r)

    def polygon(self, points: list[tuple[float, float]]) -> np.ndarray:
        us, vs = [p[0] for p in points], [p[1] for p in points]
        cu, cv = (min(us) + max(us)) / 2, (min(vs) + max(vs)) / 2
        radius = max(np.hypot(pu - cu, pv - cv) for pu, pv in points)
        return self._evaluate((cu, cv), float(radius), shapes.polygon, points)

    def capsule(self, p0: tuple[float, float], p1: tuple[float, float], r0: float,
                r1: float | None = None) -> np.ndarray:
        r1 = r0 if r1 is None else r1
        centre = ((p0[0] + p1[0]) / 2, (p0[1] + p1[1]) / 2)
        radius = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1])) / 2 + max(r0, r1)
        return self._evaluate(centre, radius, shapes.capsule, p0, p1, r0, r1)

    def polyline(self, points: list[tuple[float, float]], r0: float, r1: float | None = None) -> np.ndarray:
        r1 = r0 if r1 is None else r1
        out = np.zeros(self.shape, dtype=bool)
        n = len(points) - 1
        for i in range(n):
            ra, rb = r0 + (r1 - r0) * i / n, r0 + (r1 - r0) * (i + 1) / n
            out |= self.capsule(points[i], points[i + 1], ra, rb)
        return out


def _colour(rng: np.random.Generator, palette: list[Rgb], jitter: float = 14.0) -> np.ndarray:
    base = np.asarray(palette[int(rng.integers(len(palette)))], dtype=np.float32)
    return np.clip(base + rng.normal(0.0, jitter, 3).astype(np.float32), 0, 255)


def _canvas(u: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return np.broadcast_to(colour, (*u.shape, 3)).astype(np.float32)


def _paint(rgb: np.ndarray, region: np.ndarray, colour: np.ndarray) -> None:
    rgb[region] = colour


def _dog(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u = f.u
    body_a, body_b = rng.uniform(0.42, 0.55), rng.uniform(0.17, 0.26)
    head_r = rng.uniform(0.14, 0.2)
    hx, hy = rng.uniform(0.42, 0.55), rng.uniform(-0.38, -0.2)
    leg_len = rng.uniform(0.45, 0.62)
    body = f.ellipse(-0.05, 0.0, body_a, body_b)
    head = f.circle(hx, hy, head_r)
    snout = f.ellipse(hx + head_r * 0.9, hy + 0.05, head_r * 0.75, head_r * 0.45)
    neck = f.capsule((0.25, -0.05), (hx, hy), 0.11)
    ear = f.ellipse(hx - head_r * 0.55, hy + head_r * 0.3, 0.06, head_r * 0.8, 0.3)
    legs = np.zeros_like(body)
    for lx in (-0.4, -0.27, 0.2, 0.32):
        step = rng.uniform(-0.08, 0.08)
        legs |= f.capsule((lx, 0.05), (lx + step, leg_len), 0.065, 0.05)
    tail_tip = (rng.uniform(-0.85, -0.7), rng.uniform(-0.5, 0.1))
    tail = f.capsule((-0.48, -0.05), tail_tip, 0.055, 0.03)
    mask = body | head | snout | neck | ear | legs | tail
    fur = _colour(rng, [(139, 90, 43), (205, 170, 110), (60, 45, 35), (230, 220, 200), (180, 110, 50)])
    patch = _colour(rng, [(250, 245, 235), (40, 30, 25), (120, 75, 40)])
    rgb = _canvas(u, fur)
    spots = smooth_noise(rng, *u.shape, 3, 3) > rng.uniform(0.6, 0.8)
    _paint(rgb, spots & body, patch)
    _paint(rgb, ear, fur * 0.6)
    _paint(rgb, f.circle(hx + head_r * 0.3, hy - head_r * 0.25, head_r * 0.16), np.float32([20] * 3))
    _paint(rgb, f.circle(hx + head_r * 1.6, hy + 0.03, head_r * 0.2), np.float32([15] * 3))
    return mask, rgb


def _bird(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u = f.u
    tilt = rng.uniform(-0.4, 0.2)
    body = f.ellipse(0.0, 0.0, rng.uniform(0.36, 0.46), rng.uniform(0.2, 0.28), tilt)
    hr = rng.uniform(0.13, 0.18)
    hx, hy = 0.4, -0.22
    head = f.circle(hx, hy, hr)
    beak_len = rng.uniform(0.15, 0.3)
    beak = f.polygon([(hx + hr * 0.7, hy - 0.05), (hx + hr + beak_len, hy + 0.01),
                          (hx + hr * 0.7, hy + 0.06)])
    spread = rng.uniform(0.1, 0.35)
    tail = f.polygon([(-0.3, -0.03), (-0.88, -spread), (-0.8, 0.0), (-0.88, spread * 0.6), (-0.3, 0.08)])
    raised = rng.random() < 0.5
    if raised:
        wing_tip = (rng.uniform(-0.5, -0.1), rng.uniform(-0.85, -0.6))
    else:
        wing_tip = (-0.55, rng.uniform(0.0, 0.1))
    wing = f.polygon([(0.2, -0.08), wing_tip, (-0.3, 0.12), (0.1, 0.1)])
    legs = f.capsule((0.05, 0.2), (0.1, 0.55), 0.025) | f.capsule((-0.08, 0.2), (-0.08, 0.55), 0.025)
    mask = body | head | beak | tail | wing | legs
    plume = _colour(rng, [(220, 30, 30), (30, 80, 210), (250, 210, 30), (40, 160, 60), (240, 240, 240),
                          (30, 30, 30), (255, 120, 20)])
    wing_colour = _colour(rng, [(20, 20, 20), (90, 60, 40), (250, 250, 250), (60, 90, 200)])
    rgb = _canvas(u, plume)
    belly = f.ellipse(0.05, 0.1, 0.3, 0.12, tilt)
    _paint(rgb, belly & body, np.clip(plume * 0.5 + 120, 0, 255))
    _paint(rgb, wing | tail, wing_colour)
    _paint(rgb, beak | legs, _colour(rng, [(250, 160, 20), (230, 200, 60), (70, 60, 50)]))
    _paint(rgb, f.circle(hx + hr * 0.35, hy - hr * 0.2, hr * 0.2), np.float32([10, 10, 10]))
    return mask, rgb


def _car(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, v = f.u, f.v
    length = rng.uniform(0.75, 0.88)
    top = rng.uniform(-0.12, 0.0)
    bottom = rng.uniform(0.22, 0.3)
    body = f.polygon([(-length, top + 0.05), (-length + 0.08, top), (length - 0.12, top),
                          (length, top + 0.1), (length, bottom), (-length, bottom)])
    truck = rng.random() < 0.3
    if truck:
        cabin = f.polygon([(0.2, top), (0.25, -0.5), (0.6, -0.5), (0.72, top)])
        cargo = f.polygon([(-length, top), (-length, -0.6), (0.12, -0.6), (0.12, top)])
        upper = cabin | cargo
        glass = f.polygon([(0.3, top - 0.06), (0.33, -0.42), (0.56, -0.42), (0.64, top - 0.06)])
    else:
        roof = rng.uniform(-0.45, -0.35)
        upper = f.polygon([(-0.5, top), (-0.3, roof), (0.25, roof), (0.5, top)])
        glass = f.polygon([(-0.4, top - 0.04), (-0.26, roof + 0.05), (0.21, roof + 0.05),
                               (0.4, top - 0.04)])
    wr = rng.uniform(0.15, 0.2)
    wheels = f.circle(-length + 0.3, bottom, wr) | f.circle(length - 0.3, bottom, wr)
    hubs = f.circle(-length + 0.3, bottom, wr * 0.45) | f.circle(length - 0.3, bottom, wr * 0.45)
    mask = body | upper | wheels
    paint = _colour(rng, [(200, 20, 20), (20, 60, 180), (240, 200, 20), (230, 230, 230), (30, 30, 30),
                          (20, 140, 60), (250, 120, 0)], 10)
    rgb = _canvas(u, paint)
    sheen = np.clip(1.25 - 0.9 * (v - top + 0.5), 0.6, 1.3).astype(np.float32)
    rgb *= sheen[..., None]
    _paint(rgb, glass & upper, np.float32([140, 190, 220]))
    _paint(rgb, wheels, np.float32([25, 25, 25]))
    _paint(rgb, hubs, np.float32([180, 180, 185]))
    _paint(rgb, f.circle(length - 0.06, top + 0.12, 0.05) & body, np.float32([255, 250, 200]))
    return mask, rgb


def _lizard(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, v = f.u, f.v
    body_a, body_b = rng.uniform(0.3, 0.38), rng.uniform(0.1, 0.14)
    body = f.ellipse(0.0, 0.0, body_a, body_b)
    head = f.ellipse(body_a + 0.1, 0.0, rng.uniform(0.12, 0.16), rng.uniform(0.07, 0.09))
    curl = rng.uniform(-0.35, 0.35)
    tail = f.polyline([(-body_a + 0.05, 0.0), (-0.55, curl * 0.3), (-0.75, curl * 0.8), (-0.85, curl * 1.4)],
                      body_b * 0.8, 0.015)
    legs = np.zeros(f.shape, dtype=bool)
    for lu in (body_a * 0.55, -body_a * 0.55):
        for side in (-1, 1):
            knee = (lu + rng.uniform(-0.05, 0.1), side * rng.uniform(0.2, 0.28))
            foot = (knee[0] + rng.uniform(-0.12, 0.12), side * rng.uniform(0.3, 0.4))
            legs |= f.polyline([(lu, 0.0), knee, foot], 0.045, 0.03)
    mask = body | head | tail | legs
    skin = _colour(rng, [(70, 120, 40), (110, 130, 50), (140, 100, 60), (200, 180, 80), (60, 150, 140)])
    rgb = _canvas(u, skin)
    rgb[(np.sin(u * 70) * np.sin(v * 70)) > 0.3] *= 0.8
    _paint(rgb, (np.abs(v) < body_b * 0.3) & (body | tail), _colour(rng, [(40, 40, 30), (230, 210, 120)]))
    _paint(rgb, f.circle(body_a + 0.16, -0.03, 0.025), np.float32([10, 10, 10]))
    return mask, rgb


def _snake(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, v = f.u, f.v
    amplitude = rng.uniform(0.15, 0.35)
    frequency = rng.uniform(1.5, 3.0) * np.pi
    phase = rng.uniform(0, 2 * np.pi)
    xs = np.linspace(-0.82, 0.65, 18)
    points = [(float(x), float(amplitude * np.sin(frequency * x + phase))) for x in xs]
    width = rng.uniform(0.09, 0.14)
    body = f.polyline(points, width * 0.3, width)
    hx, hy = points[-1]
    head = f.ellipse(hx + 0.1, hy, width * 1.9, width * 1.3)
    mask = body | head
    skin = _colour(rng, [(70, 120, 40), (110, 130, 50), (140, 100, 60), (200, 180, 80), (40, 80, 40)])
    band = _colour(rng, [(30, 30, 20), (220, 200, 120), (180, 40, 30)])
    rgb = _canvas(u, skin)
    scales = (np.sin(u * 60) * np.sin(v * 60)) > 0.3
    rgb[scales] *= 0.8
    bands = np.sin(u * rng.uniform(18, 30)) > 0.55
    _paint(rgb, bands & body, band)
    _paint(rgb, f.circle(hx + 0.16, hy - width * 0.5, width * 0.3), np.float32([240, 200, 20]))
    return mask, rgb


def _cat(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, v = f.u, f.v
    body = f.ellipse(-0.1, 0.12, rng.uniform(0.42, 0.52), rng.uniform(0.2, 0.27))
    hr = rng.uniform(0.18, 0.23)
    hx, hy = 0.42, -0.2
    head = f.circle(hx, hy, hr)
    ear_h = rng.uniform(0.17, 0.27)
    ears = (f.polygon([(hx - hr * 0.8, hy - hr * 0.3), (hx - hr * 0.55, hy - hr - ear_h),
                           (hx - hr * 0.05, hy - hr * 0.8)])
            | f.polygon([(hx + hr * 0.1, hy - hr * 0.85), (hx + hr * 0.55, hy - hr - ear_h),
                             (hx + hr * 0.85, hy - hr * 0.35)]))
    legs = np.zeros_like(body)
    for lx in (-0.42, -0.28, 0.12, 0.25):
        legs |= f.capsule((lx, 0.2), (lx + rng.uniform(-0.05, 0.05), 0.62), 0.06)
    curl = rng.uniform(-0.3, 0.3)
    tail = f.polyline([(-0.55, 0.05), (-0.78, -0.2), (-0.7 + curl * 0.3, -0.55), (-0.5 + curl, -0.7)],
                    0.06, 0.045)
    mask = body | head | ears | legs | tail
    fur = _colour(rng, [(230, 130, 40), (150, 150, 150), (60, 55, 50), (210, 180, 130), (240, 160, 60)])
    stripe = _colour(rng, [(25, 20, 15), (90, 60, 30), (240, 235, 220)])
    rgb = _canvas(u, fur)
    stripes = np.sin(u * rng.uniform(20, 32) + 2.5 * v) > rng.uniform(0.2, 0.6)
    _paint(rgb, stripes & (body | tail | legs), stripe)
    for side in (-1, 1):
        _paint(rgb, f.ellipse(hx + 0.05 + side * hr * 0.35, hy - hr * 0.15, hr * 0.18, hr * 0.12),
               np.float32([120, 200, 60]))
    _paint(rgb, f.circle(hx + 0.05, hy + hr * 0.3, hr * 0.12), np.float32([230, 120, 130]))
    return mask, rgb


def _butterfly(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u = f.u
    spread = rng.uniform(0.85, 1.0)
    fore = [f.ellipse(0.12, side * 0.42 * spread, rng.uniform(0.26, 0.32), 0.36 * spread, side * 0.5)
            for side in (-1, 1)]
    hind = [f.ellipse(-0.22, side * 0.3 * spread, rng.uniform(0.2, 0.25), 0.26 * spread, -side * 0.4)
            for side in (-1, 1)]
    wings = fore[0] | fore[1] | hind[0] | hind[1]
    body = f.capsule((-0.45, 0.0), (0.32, 0.0), 0.055, 0.045)
    head = f.circle(0.36, 0.0, 0.06)
    antennae = (f.capsule((0.38, -0.02), (0.62, -0.25), 0.015) | f.capsule((0.38, 0.02), (0.62, 0.25), 0.015))
    mask = wings | body | head | antennae
    wing_colour = _colour(rng, [(250, 140, 20), (40, 110, 230), (250, 230, 60), (240, 240, 240),
                                (200, 40, 120)])
    rgb = _canvas(u, np.float32([25, 22, 20]))
    _paint(rgb, wings, wing_colour)
    inner = (f.ellipse(0.1, -0.4 * spread, 0.2, 0.27 * spread, -0.5)
             | f.ellipse(0.1, 0.4 * spread, 0.2, 0.27 * spread, 0.5))
    _paint(rgb, (fore[0] | fore[1]) & ~inner & ~hind[0] & ~hind[1], np.float32([30, 25, 20]))
    for side in (-1, 1):
        _paint(rgb, f.circle(0.18, side * 0.5 * spread, 0.07), np.float32([250, 250, 245]))
        _paint(rgb, f.circle(-0.22, side * 0.33 * spread, 0.06), _colour(rng, [(20, 20, 20), (40, 80, 200)]))
    _paint(rgb, body | head, np.float32([30, 25, 20]))
    return mask, rgb


def _beetle(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, v = f.u, f.v
    abdomen = f.ellipse(-0.2, 0.0, rng.uniform(0.33, 0.42), rng.uniform(0.22, 0.3))
    thorax = f.ellipse(0.25, 0.0, 0.14, rng.uniform(0.1, 0.15))
    head = f.circle(0.45, 0.0, rng.uniform(0.08, 0.11))
    legs = np.zeros_like(abdomen)
    for lx, reach in ((0.3, 0.45), (0.15, 0.5), (0.0, 0.45)):
        bend = rng.uniform(-0.15, 0.15)
        for side in (-1, 1):
            knee = (lx + 0.05 + bend, side * reach * 0.75)
            foot = (lx - 0.2 + bend, side * reach * 1.35)
            legs |= f.polyline([(lx, 0.0), knee, foot], 0.03, 0.02)
    span = rng.uniform(0.2, 0.4)
    antennae = (f.capsule((0.5, -0.03), (0.8, -span), 0.018)
                | f.capsule((0.5, 0.03), (0.8, span), 0.018))
    mask = abdomen | thorax | head | legs | antennae
    shell = _colour(rng, [(200, 20, 20), (30, 30, 30), (240, 190, 20), (30, 150, 60), (120, 40, 160)])
    rgb = _canvas(u, np.float32([25, 22, 20]))
    _paint(rgb, abdomen, shell)
    kind = rng.integers(3)
    if kind == 0:  # ladybird spots
        spots = (np.sin(u * 22 + 1.0) * np.sin(v * 22)) > 0.75
        _paint(rgb, spots & abdomen, np.float32([15, 15, 15]))
    elif kind == 1:  # bee bands
        _paint(rgb, (np.sin(u * 28) > 0.2) & abdomen, np.float32([20, 20, 15]))
    _paint(rgb, f.ellipse(-0.2, 0.0, 0.4, 0.012) & abdomen, np.float32([10, 10, 10]))
    return mask, rgb


def _trumpet(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, v = f.u, f.v
    flare = rng.uniform(0.22, 0.3)
    bell = f.polygon([(0.3, -0.05), (0.7, -0.09), (0.88, -flare), (0.9, flare), (0.7, 0.09), (0.3, 0.05)])
    lead = f.capsule((-0.85, 0.0), (0.35, 0.0), 0.04)
    loop_depth = rng.uniform(0.25, 0.35)
    loop = f.polyline([(-0.5, 0.0), (-0.6, loop_depth * 0.6), (-0.45, loop_depth), (0.2, loop_depth),
                       (0.3, loop_depth * 0.5), (0.25, 0.0)], 0.04)
    valves = np.zeros(f.shape, dtype=bool)
    for vu in (-0.15, 0.0, 0.15):
        valves |= f.capsule((vu, -0.2), (vu, loop_depth), 0.045)
    mouthpiece = f.polygon([(-0.95, -0.07), (-0.82, -0.03), (-0.82, 0.03), (-0.95, 0.07)])
    mask = bell | lead | loop | valves | mouthpiece
    metal = _colour(rng, [(220, 180, 60), (200, 200, 205), (190, 120, 60)], 8)
    rgb = _canvas(u, metal)
    shine = 0.75 + 0.5 * np.abs(np.sin(v * 18 + u * 3)).astype(np.float32)
    rgb *= shine[..., None]
    _paint(rgb, f.ellipse(0.89, 0.0, 0.03, flare * 0.9), np.clip(metal * 0.45, 0, 255))
    _paint(rgb, f.circle(-0.15, -0.2, 0.05) | f.circle(0.0, -0.2, 0.05) | f.circle(0.15, -0.2, 0.05),
           np.float32([240, 235, 220]))
    return mask, rgb


def _guitar(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, v = f.u, f.v
    lower_r = rng.uniform(0.26, 0.34)
    upper_r = lower_r * rng.uniform(0.68, 0.85)
    lower = f.circle(-0.5, 0.0, lower_r)
    upper = f.circle(-0.5 + lower_r + upper_r * 0.5, 0.0, upper_r)
    waist = f.ellipse(-0.5 + lower_r * 0.7, 0.0, lower_r * 0.7, upper_r * 0.75)
    neck_end = rng.uniform(0.62, 0.74)
    neck = f.polygon([(-0.2, -0.045), (neck_end, -0.035), (neck_end, 0.035), (-0.2, 0.045)])
    head = f.polygon([(neck_end, -0.06), (0.95, -0.09), (0.97, 0.09), (neck_end, 0.06)])
    body = lower | upper | waist
    mask = body | neck | head
    wood = _colour(rng, [(190, 120, 60), (140, 60, 30), (230, 180, 110), (30, 25, 25), (170, 30, 30)])
    rgb = _canvas(u, wood)
    grain = 0.85 + 0.15 * np.sin(v * 90 + 4 * np.sin(u * 7)).astype(np.float32)
    rgb *= grain[..., None]
    _paint(rgb, neck | head, np.float32([70, 40, 20]))
    hole_x = -0.5 + lower_r * 0.75
    _paint(rgb, f.circle(hole_x, 0.0, upper_r * 0.38), np.float32([15, 10, 8]))
    strings = (np.abs(v) < 0.03) & (np.abs(((v + 0.03) * 160) % 2 - 1) < 0.25) & (u > -0.55)
    _paint(rgb, strings & mask, np.float32([225, 225, 215]))
    _paint(rgb, f.polygon([(-0.62, -0.08), (-0.57, -0.08), (-0.57, 0.08), (-0.62, 0.08)]),
           np.float32([20, 15, 10]))
    return mask, rgb


def _monkey(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u = f.u
    body = f.ellipse(0.0, 0.12, rng.uniform(0.2, 0.27), rng.uniform(0.3, 0.38))
    hr = rng.uniform(0.16, 0.2)
    hy = -0.42
    head = f.circle(0.0, hy, hr)
    ears = f.circle(-hr * 1.05, hy, hr * 0.38) | f.circle(hr * 1.05, hy, hr * 0.38)
    limbs = np.zeros_like(body)
    for side in (-1, 1):
        hand = (side * rng.uniform(0.55, 0.72), rng.uniform(-0.65, 0.45))
        elbow = (side * 0.42, (hand[1] - 0.1) * 0.5)
        limbs |= f.polyline([(side * 0.15, -0.12), elbow, hand], 0.07, 0.055)
        foot = (side * rng.uniform(0.25, 0.45), rng.uniform(0.7, 0.82))
        limbs |= f.polyline([(side * 0.12, 0.35), (side * 0.3, 0.5), foot], 0.08, 0.06)
    tail_side = 1 if rng.random() < 0.5 else -1
    tail = f.polyline([(0.0, 0.4), (tail_side * 0.3, 0.55), (tail_side * 0.55, 0.45),
                           (tail_side * 0.62, 0.2)], 0.04, 0.03)
    mask = body | head | ears | limbs | tail
    fur = _colour(rng, [(90, 60, 35), (40, 32, 28), (150, 140, 130), (180, 120, 60)])
    rgb = _canvas(u, fur)
    shade = 0.85 + 0.3 * smooth_noise(rng, *u.shape, 6, 6)
    rgb *= shade[..., None]
    face = _colour(rng, [(230, 190, 160), (200, 150, 120), (120, 90, 80)])
    _paint(rgb, f.ellipse(0.0, hy + hr * 0.2, hr * 0.7, hr * 0.62), face)
    for side in (-1, 1):
        _paint(rgb, f.circle(side * hr * 0.3, hy + hr * 0.05, hr * 0.13), np.float32([15, 10, 5]))
    _paint(rgb, f.ellipse(0.0, 0.15, 0.13, 0.2), np.clip(fur * 1.35, 0, 255))
    return mask, rgb


def _fish(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u, v = f.u, f.v
    a, b = rng.uniform(0.45, 0.58), rng.uniform(0.2, 0.36)
    body = f.ellipse(0.05, 0.0, a, b)
    tail_w = rng.uniform(0.25, 0.45)
    root = 0.05 - a * 0.9
    tail = f.polygon([(root, 0.0), (root - 0.35, -tail_w), (root - 0.25, 0.0), (root - 0.35, tail_w)])
    fin_h = rng.uniform(0.1, 0.25)
    dorsal = f.polygon([(-0.2, -b * 0.85), (0.0, -b - fin_h), (0.2, -b * 0.8)])
    pelvic = f.polygon([(-0.05, b * 0.8), (-0.2, b + fin_h * 0.6), (0.1, b * 0.85)])
    mask = body | tail | dorsal | pelvic
    scale_colour = _colour(rng, [(250, 120, 20), (190, 195, 205), (250, 220, 30), (40, 110, 220),
                                 (230, 60, 120)])
    rgb = _canvas(u, scale_colour)
    belly = np.clip((v + 0.1) / (b + 0.1), 0, 1).astype(np.float32)
    rgb = mix(rgb, np.float32([245, 245, 240]), belly * 0.5)
    kind = rng.integers(3)
    if kind == 0:  # clownfish bands
        bands = np.abs(np.sin((u + 0.1) * rng.uniform(5, 8))) < 0.25
        _paint(rgb, bands & body, np.float32([250, 250, 250]))
    elif kind == 1:  # scales
        rgb[(np.sin(u * 70 + np.sin(v * 70)) > 0.6) & body] *= 0.8
    _paint(rgb, tail | dorsal | pelvic, np.clip(scale_colour * 0.7, 0, 255))
    eye_x = 0.05 + a * 0.65
    _paint(rgb, f.circle(eye_x, -b * 0.25, 0.055), np.float32([250, 250, 250]))
    _paint(rgb, f.circle(eye_x + 0.01, -b * 0.25, 0.03), np.float32([10, 10, 10]))
    return mask, rgb


def _either(p_first: float, first: FamilyFn, second: FamilyFn) -> FamilyFn:
    """A family that draws ``first`` with probability ``p_first``, else ``second`` (one ``rng.random()``)."""

    def draw(f: Frame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return first(f, rng) if rng.random() < p_first else second(f, rng)

    return draw


FAMILY_FUNCTIONS: tuple[FamilyFn, ...] = (
    _dog,
    _bird,
    _car,
    _either(0.4, _lizard, _snake),  # a snake (60%) or a lizard (40%)
    _cat,
    _either(0.35, _butterfly, _beetle),  # a beetle (65%) or a butterfly seen from above (35%)
    _either(0.35, _trumpet, _guitar),  # a guitar (65%) or a trumpet (35%)
    _monkey,
    _fish,
)

MAX_TILT: tuple[float, ...] = (0.35, 0.5, 0.25, np.pi, 0.35, np.pi, 1.2, 0.4, 0.6)
"""Largest rotation (radians, either way) of each family; snakes and beetles turn freely."""


@dataclass(frozen=True)
class Pose:
    """Placement of one object: centre (pixels, float), ``scale`` = radius of its unit disc in pixels,
    rotation ``angle`` (radians), horizontal ``mirror`` and anisotropic ``stretch`` (u factor, v factor)."""

    cx: float
    cy: float
    scale: float
    angle: float
    mirror: bool
    stretch: tuple[float, float]

    @property
    def radius(self) -> float:
        """Half-size in pixels of a square that always contains the object."""
        return self.scale * max(self.stretch)


def draw_pose(rng: np.random.Generator, family: int, cx: float, cy: float, scale: float) -> Pose:
    """Random rotation, mirroring and stretch for an object of ``family`` at the given centre and scale."""
    tilt = MAX_TILT[family]
    return Pose(cx=cx, cy=cy, scale=scale, angle=float(rng.uniform(-tilt, tilt)),
                mirror=bool(rng.random() < 0.5),
                stretch=(float(rng.uniform(0.9, 1.1)), float(rng.uniform(0.85, 1.1))))


def render_object(family: int, pose: Pose, rng: np.random.Generator, height: int,
                  width: int) -> tuple[tuple[int, int], np.ndarray, np.ndarray]:
    """Draw one object of ``family`` (0..8) into an image of ``height x width``.

    Returns ``((y0, x0), mask, rgb)``: the window's top-left corner in the image, a bool (h, w) mask
    and a float32 (h, w, 3) colour patch in [0, 255] for the window (clipped to the image; it may be
    empty when the object lies outside the image).
    """
    r = pose.radius
    x0, x1 = max(0, int(np.floor(pose.cx - r))), min(width, int(np.ceil(pose.cx + r)) + 1)
    y0, y1 = max(0, int(np.floor(pose.cy - r))), min(height, int(np.ceil(pose.cy + r)) + 1)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - np.float32(pose.cy)
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - np.float32(pose.cx)
    c, s = np.float32(np.cos(pose.angle)), np.float32(np.sin(pose.angle))
    u = (c * xs + s * ys) / np.float32(pose.scale * pose.stretch[0])
    v = (-s * xs + c * ys) / np.float32(pose.scale * pose.stretch[1])
    if pose.mirror:
        u = -u
    su, sv = pose.scale * pose.stretch[0], pose.scale * pose.stretch[1]
    sign = -1.0 if pose.mirror else 1.0

    def to_pixel(cu: float, cv: float) -> tuple[float, float]:
        """Window pixel index (x, y) of the canonical point (cu, cv)."""
        du, dv = sign * cu * su, cv * sv
        return (float(c * du - s * dv + pose.cx - 0.5 - x0), float(s * du + c * dv + pose.cy - 0.5 - y0))

    frame = Frame(u, v, to_pixel, pose.scale * max(pose.stretch))
    mask, rgb = FAMILY_FUNCTIONS[family](frame, rng)
    mask = np.broadcast_to(mask, u.shape) & (u * u + v * v <= 1.0)
    light = 1.1 - 0.25 * (v + 1.0) / 2.0 + 0.08 * u
    texture = 0.92 + 0.16 * smooth_noise(rng, *u.shape, 4, 4)
    rgb = rgb * (light * texture)[..., None]
    return (y0, x0), np.ascontiguousarray(mask), np.clip(rgb, 0, 255)
