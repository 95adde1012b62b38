"""Dataset loading: ImageFolder order, decode once, cache keyed by content, skips and errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgbench.classes import IN9_FOLDERS
from bgbench.data.images import decode_image, load_variant
from bgbench.data.masks import load_masks
from bgbench.errors import BgbenchError


def write_tree(root: Path, variants=("original", "mixed_same", "mixed_rand"), per_class: int = 2,
               size: int = 32, classes=IN9_FOLDERS, seed: int = 0, split: str = "val",
               masks: bool = False) -> Path:
    """A tiny released-layout tree of random JPEGs (every variant holds the same stems)."""
    rng = np.random.default_rng(seed)
    for variant in variants:
        for folder in classes:
            out = root / variant / split / folder
            out.mkdir(parents=True, exist_ok=True)
            for k in range(per_class):
                base = rng.integers(0, 256, size=3)
                noise = rng.integers(-60, 60, size=(size, size, 3))
                arr = np.clip(base + noise, 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(out / f"{folder}_{k:03d}.JPEG", format="JPEG", quality=90)
    if masks:
        for folder in classes:
            out = root / "fg_mask" / split / folder
            out.mkdir(parents=True, exist_ok=True)
            for k in range(per_class):
                m = np.zeros((size, size), dtype=np.uint8)
                m[size // 4: 3 * size // 4, size // 4 + k: 3 * size // 4] = 1
                np.save(out / f"{folder}_{k:03d}.npy", m)
    return root


def pil_reference(folder: Path, exclude=()) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Straightforward ImageFolder read: sorted classes, sorted files, PIL RGB."""
    images, labels, names = [], [], []
    for label, cls in enumerate(sorted(p.name for p in folder.iterdir() if p.is_dir())):
        for path in sorted((folder / cls).iterdir()):
            if path.name in exclude:
                continue
            images.append(np.asarray(Image.open(path).convert("RGB")))
            labels.append(label)
            names.append(path.name)
    return images, labels, names


def test_load_matches_plain_pil_in_imagefolder_order(tmp_path):
    root = write_tree(tmp_path / "data")
    data = load_variant(root, "original", cache=False)
    images, labels, names = pil_reference(root / "original" / "val")
    assert data.images.shape == (18, 32, 32, 3) and data.images.dtype == np.uint8
    assert np.array_equal(data.images, np.stack(images))
    assert data.labels.tolist() == labels
    assert [Path(p).name for p in data.paths] == names
    assert data.paths[0] == "original/val/00_dog/00_dog_000.JPEG"
    assert data.class_names == list(IN9_FOLDERS)
    assert data.skipped == [] and len(data.fingerprint) == 64


def test_cache_is_reused_and_memory_mapped(tmp_path):
    root = write_tree(tmp_path / "data")
    cache = tmp_path / "cache"
    first = load_variant(root, "mixed_rand", cache_dir=cache, workers=2)
    assert not first.cached and isinstance(first.images, np.memmap)
    second = load_variant(root, "mixed_rand", cache_dir=cache)
    assert second.cached and isinstance(second.images, np.memmap)
    assert np.array_equal(first.images, second.images)
    assert second.fingerprint == first.fingerprint
    assert second.fingerprint == load_variant(root, "mixed_rand", cache=False).fingerprint
    entries = list((cache / "datasets").iterdir())
    assert len(entries) == 1 and sorted(p.name for p in entries[0].iterdir()) == ["images.npy", "meta.json"]


def test_rewritten_file_misses_cache_and_changes_fingerprint(tmp_path):
    root = write_tree(tmp_path / "data")
    cache = tmp_path / "cache"
    before = load_variant(root, "original", cache_dir=cache)
    target = root / "original/val/03_reptile/03_reptile_001.JPEG"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(target, format="JPEG")
    os.utime(target, ns=(1, 1))
    after = load_variant(root, "original", cache_dir=cache)
    assert not after.cached and after.fingerprint != before.fingerprint
    index = after.paths.index("original/val/03_reptile/03_reptile_001.JPEG")
    assert abs(int(after.images[index].astype(int).mean()) - 200) <= 2


def test_fingerprint_is_independent_of_location_and_mtime(tmp_path):
    a = write_tree(tmp_path / "a", variants=("original",))
    b = write_tree(tmp_path / "b", variants=("original",))
    for path in b.rglob("*.JPEG"):
        os.utime(path, ns=(10**9, 10**9))
    fa = load_variant(a, "original", cache=False).fingerprint
    assert fa == load_variant(b, "original", cache=False).fingerprint


def test_unreadable_image_is_a_listed_skip_labels_stay_aligned(tmp_path):
    root = write_tree(tmp_path / "data", variants=("original",))
    bad = root / "original/val/02_vehicle/02_vehicle_000.JPEG"
    bad.write_bytes(b"not a jpeg at all")
    truncated = root / "original/val/05_insect/05_insect_001.JPEG"
    truncated.write_bytes(truncated.read_bytes()[:200])
    for cache in (False, True):
        data = load_variant(root, "original", cache=cache, cache_dir=tmp_path / "cache")
        skipped = dict(data.skipped)
        assert set(skipped) == {"original/val/02_vehicle/02_vehicle_000.JPEG",
                                "original/val/05_insect/05_insect_001.JPEG"}
        assert all(reason.startswith("cannot decode image") for reason in skipped.values())
        assert len(data) == 16 and data.images.shape[0] == 16
        ref = pil_reference(root / "original/val", exclude={bad.name, truncated.name})
        reference = {n: (img, lab) for img, lab, n in zip(*ref, strict=True)}
        for image, label, path in zip(data.images, data.labels, data.paths, strict=True):
            ref_image, ref_label = reference[Path(path).name]
            assert label == ref_label and np.array_equal(image, ref_image)
    assert load_variant(root, "original", cache_dir=tmp_path / "cache").cached


def test_greyscale_and_palette_images_become_rgb():
    import io

    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    buf = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buf, format="PNG")
    rgb = decode_image(buf.getvalue())
    assert rgb.shape == (8, 8, 3) and np.array_equal(rgb[:, :, 1], grey)
    buf = io.BytesIO()
    Image.fromarray(grey).convert("P").save(buf, format="PNG")
    assert decode_image(buf.getvalue()).shape == (8, 8, 3)


def test_missing_variant_empty_class_and_mixed_sizes_are_errors(tmp_path):
    root = write_tree(tmp_path / "data", variants=("original",))
    with pytest.raises(BgbenchError, match="variant folder only_fg/ not found"):
        load_variant(root, "only_fg", cache=False)
    with pytest.raises(BgbenchError, match="split folder not found"):
        load_variant(root, "original", split="train", cache=False)
    for path in (root / "original/val/04_carnivore").iterdir():
        path.unlink()
    with pytest.raises(BgbenchError, match="04_carnivore: class folder holds no image files"):
        load_variant(root, "original", cache=False)
    root2 = write_tree(tmp_path / "data2", variants=("original",))
    Image.fromarray(np.zeros((40, 32, 3), np.uint8)).save(root2 / "original/val/08_fish/08_fish_001.JPEG",
                                                          format="JPEG")
    with pytest.raises(BgbenchError, match=r"1 image\(s\) differ in size .*08_fish_001.JPEG is 32x40"):
        load_variant(root2, "original", cache_dir=tmp_path / "cache")
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert leftovers == []


def test_load_masks_sorted_and_validated(tmp_path):
    root = write_tree(tmp_path / "data", variants=("original",), masks=True)
    masks = load_masks(root)
    assert masks.masks.shape == (18, 32, 32) and masks.masks.dtype == np.uint8
    assert set(np.unique(masks.masks)) == {0, 1}
    assert masks.labels.tolist() == [i // 2 for i in range(18)]
    assert masks.paths[3] == "fg_mask/val/01_bird/01_bird_001.npy"
    images = load_variant(root, "original", cache=False)
    assert [Path(p).stem for p in masks.paths] == [Path(p).stem for p in images.paths]
    bad = root / "fg_mask/val/06_instrument/06_instrument_000.npy"
    np.save(bad, np.full((32, 32), 2, np.uint8))
    with pytest.raises(BgbenchError, match="06_instrument_000.npy: mask holds values other than 0 and 1"):
        load_masks(root)
    np.save(bad, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BgbenchError, match="06_instrument_000.npy: cannot read mask"):
        load_masks(root)
    np.save(bad, np.zeros((16, 32), np.uint8))
    with pytest.raises(BgbenchError, match="mask has shape"):
        load_masks(root)
