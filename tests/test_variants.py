"""Each variant's definition, checked on generated arrays (pure functions, no files)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bgbench.donors import choose_donors
from bgbench.variants import (
    background_strip,
    box_crop_fractions,
    boxes_mask,
    crop_indices,
    mixed,
    no_fg,
    only_bg_b,
    only_bg_t,
    only_fg,
    resize_crop,
    single_image_variants,
    tile_fill,
)


def noise_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def blob_mask(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """An ellipse inscribed in the (inclusive) box."""
    x0, y0, x1, y1 = box
    yy, xx = np.mgrid[0:height, 0:width]
    cy, cx, ry, rx = (y0 + y1) / 2, (x0 + x1) / 2, (y1 - y0 + 1) / 2, (x1 - x0 + 1) / 2
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


@pytest.mark.parametrize("hw", [(375, 500), (500, 333), (64, 96), (1024, 1280), (224, 224), (100, 37)])
def test_resize_crop_matches_pil_nearest_and_torchvision_center_crop(hw):
    from torchvision.transforms import CenterCrop, InterpolationMode, Resize

    image = noise_image(*hw)
    reference = CenterCrop(224)(Resize(256, interpolation=InterpolationMode.NEAREST)(Image.fromarray(image)))
    ours = resize_crop(image)
    assert ours.shape == (224, 224, 3) and ours.dtype == np.uint8
    np.testing.assert_array_equal(ours, np.asarray(reference))


def test_resize_crop_sizes_configurable_and_consistent_for_masks():
    image = noise_image(90, 120)
    mask = blob_mask(90, 120, (30, 20, 90, 70))
    crop_image, crop_mask = resize_crop(image, 80, 64), resize_crop(mask, 80, 64)
    assert crop_image.shape == (64, 64, 3) and crop_mask.shape == (64, 64) and crop_mask.dtype == bool
    # masking commutes with the resize: same rows/columns picked for image and mask
    np.testing.assert_array_equal(resize_crop(only_fg(image, mask), 80, 64), only_fg(crop_image, crop_mask))
    np.testing.assert_array_equal(resize_crop(no_fg(image, mask), 80, 64), no_fg(crop_image, crop_mask))
    with pytest.raises(ValueError):
        crop_indices(90, 120, resize=100, size=128)


def test_only_fg_and_no_fg_definitions():
    image = noise_image(40, 50)
    mask = blob_mask(40, 50, (10, 5, 40, 30))
    fg, bg = only_fg(image, mask), no_fg(image, mask)
    np.testing.assert_array_equal(fg[mask], image[mask])
    assert not fg[~mask].any()
    np.testing.assert_array_equal(bg[~mask], image[~mask])
    assert not bg[mask].any()
    np.testing.assert_array_equal(fg + bg, image)  # disjoint supports


def test_only_bg_b_blacks_out_every_box_and_nothing_else():
    image = noise_image(60, 80) | 1  # no genuinely black pixel
    boxes = [(5, 5, 20, 30), (50, 40, 79, 59)]
    out = only_bg_b(image, boxes)
    inside = boxes_mask((60, 80), boxes)
    assert inside[5, 5] and inside[30, 20] and not inside[31, 20] and inside[59, 79]
    assert not out[inside].any()
    np.testing.assert_array_equal(out[~inside], image[~inside])


@pytest.mark.parametrize(("box", "expected"), [
    ((10, 10, 29, 50), (slice(0, 60), slice(30, 80))),   # right strip (50 wide x 60) wins
    ((50, 10, 69, 50), (slice(0, 60), slice(0, 50))),    # left strip
    ((0, 45, 79, 55), (slice(0, 45), slice(0, 80))),     # top band (full width)
    ((0, 2, 79, 20), (slice(21, 60), slice(0, 80))),     # bottom band
])
def test_background_strip_picks_the_largest_strip(box, expected):
    assert background_strip(60, 80, [box]) == expected


def test_only_bg_t_tiles_the_strip_into_the_box():
    image = noise_image(60, 80, seed=3)
    box = (20, 10, 69, 50)  # left strip 20 wide, right 10: left wins, narrower than the box
    out = only_bg_t(image, [box])
    inside = boxes_mask((60, 80), [box])
    np.testing.assert_array_equal(out[~inside], image[~inside])
    strip = image[:, :20]
    for y in range(10, 51):
        for x in range(20, 70):
            np.testing.assert_array_equal(out[y, x], strip[y % 60, x % 20])
    np.testing.assert_array_equal(out[inside], tile_fill(image, [box])[inside])


def test_only_bg_t_several_boxes_uses_strip_outside_their_union():
    image = noise_image(60, 80, seed=4)
    boxes = [(10, 5, 25, 20), (40, 30, 60, 55)]  # union x 10..60, y 5..55 -> right strip 19 wide
    assert background_strip(60, 80, boxes) == (slice(0, 60), slice(61, 80))
    out = only_bg_t(image, boxes)
    inside = boxes_mask((60, 80), boxes)
    between = np.zeros_like(inside)
    between[5:56, 10:61] = True
    between &= ~inside
    np.testing.assert_array_equal(out[~inside], image[~inside])  # gap between boxes untouched
    assert between.any()
    strip = image[:, 61:80]
    ys, xs = np.nonzero(inside)
    np.testing.assert_array_equal(out[ys, xs], strip[ys % 60, xs % 19])


def test_only_bg_t_absent_when_no_strip_left():
    image = noise_image(30, 40)
    assert only_bg_t(image, [(0, 0, 39, 29)]) is None
    assert background_strip(30, 40, [(0, 0, 20, 29), (15, 0, 39, 10)]) is None
    assert single_image_variants(image, [(0, 0, 39, 29)], np.ones((30, 40), bool), 40, 32) is None


def test_box_crop_fractions():
    whole = box_crop_fractions([(0, 0, 499, 374)], 375, 500)
    assert whole.coverage == pytest.approx(1.0) and whole.inside < 0.7
    small = box_crop_fractions([(200, 150, 299, 249)], 375, 500)
    assert small.inside == pytest.approx(1.0)
    assert small.coverage == pytest.approx((100 * 256 / 375) ** 2 / 224**2, abs=0.01)
    edge = box_crop_fractions([(0, 100, 40, 200)], 375, 500)  # mostly in the cropped-off margin
    assert edge.inside < 0.5


def test_mixed_keeps_foreground_exactly_and_takes_donor_background():
    fg_image, donor_bg = noise_image(32, 32, 1), noise_image(32, 32, 2)
    fg_image[4:12, 4:12] = 0  # genuinely black foreground pixels stay foreground
    mask = np.zeros((32, 32), np.uint8)
    mask[2:20, 3:25] = 1
    out = mixed(fg_image, mask, donor_bg)
    m = mask.astype(bool)
    np.testing.assert_array_equal(out[m], fg_image[m])
    np.testing.assert_array_equal(out[~m], donor_bg[~m])


def test_single_image_variants_shapes_and_consistency():
    image = noise_image(120, 160, 5)
    box = (40, 30, 119, 99)
    mask = blob_mask(120, 160, box)
    out = single_image_variants(image, [box], mask, resize=72, size=64)
    assert set(out) == {"original", "only_bg_b", "only_bg_t", "no_fg", "only_fg", "fg_mask"}
    for name, arr in out.items():
        assert arr.shape[:2] == (64, 64) and arr.dtype == np.uint8, name
    m = out["fg_mask"].astype(bool)
    assert set(np.unique(out["fg_mask"])) <= {0, 1} and m.any()
    np.testing.assert_array_equal(out["only_fg"][m], out["original"][m])
    np.testing.assert_array_equal(out["original"], resize_crop(image, 72, 64))
    np.testing.assert_array_equal(out["only_bg_t"], resize_crop(only_bg_t(image, [box]), 72, 64))


def test_donors_rules_and_determinism():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 9, 60).tolist()
    ids = [f"img{i}" for i in range(60)]
    donors = choose_donors(ids, labels, 9, seed=7)
    assert donors == choose_donors(ids, labels, 9, seed=7)
    assert donors != choose_donors(ids, labels, 9, seed=8)
    for i, y in enumerate(labels):
        same, rand, nxt = donors["mixed_same"][i], donors["mixed_rand"][i], donors["mixed_next"][i]
        if labels.count(y) > 1:
            assert same != i and labels[same] == y
        else:
            assert same == i  # the class's only image is its own donor
        assert rand != i
        if (y + 1) % 9 in labels:
            assert labels[nxt] == (y + 1) % 9
        else:
            assert nxt is None
    # a donor depends only on the candidates: adding an image of class 0 leaves the mixed_same
    # donors of the other classes and the mixed_next donors of classes other than 8 unchanged
    more = choose_donors(ids + ["extra"], labels + [0], 9, seed=7)
    for i, y in enumerate(labels):
        if y != 0:
            assert more["mixed_same"][i] == donors["mixed_same"][i]
        if y != 8:
            assert more["mixed_next"][i] == donors["mixed_next"][i]
