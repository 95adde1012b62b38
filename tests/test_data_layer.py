"""The data layer (bgbench.data.In9Tree) on small built trees: discovery, masks aligned with the images
and memory-mapped when cached, one background per foreground, donors equal to the manifest, content
fingerprints recomputed from the files, and shards that partition the indices."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgbench.data import In9Tree, batches, foreground_keys, shard
from bgbench.data.images import load_variant
from bgbench.errors import BgbenchError
from bgbench.layout import IMAGE_VARIANTS


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _files(folder: Path, suffix: str) -> list[Path]:
    """ImageFolder order, listed here with plain sorted() calls."""
    return [f for c in sorted(d for d in folder.iterdir() if d.is_dir()) for f in sorted(c.iterdir())
            if f.suffix == suffix]


def test_tree_discovers_splits_variants_and_files(synth_trainval: Path, tmp_path: Path) -> None:
    tree = In9Tree(synth_trainval, cache=False, quiet=True)
    assert tree.splits() == ["train", "val"]
    on_disk = [v for v in IMAGE_VARIANTS if (synth_trainval / v / "val").is_dir()]
    assert len(on_disk) >= 7 and tree.variants("val") == on_disk
    assert tree.variants("val", "mixed_rand, original") == ["mixed_rand", "original"]
    assert tree.class_folders("original", "train") == sorted(p.name for p in (synth_trainval / "original" /
                                                                               "train").iterdir())
    assert tree.class_folders("original", "test") == []
    masks = tree.files("fg_mask", "val")
    assert [p for p, _ in masks] == _files(synth_trainval / "fg_mask" / "val", ".npy")
    assert [label for _, label in masks] == [tree.class_folders("fg_mask", "val").index(p.parent.name)
                                             for p, _ in masks]
    with pytest.raises(BgbenchError, match="no variant folders found for split 'test'.*found split"):
        tree.variants("test")
    with pytest.raises(BgbenchError, match="variant 'only_fg' not found"):
        In9Tree(synth_trainval / "original").variants("val", "only_fg")
    with pytest.raises(BgbenchError, match="missing: data folder not found"):
        In9Tree(tmp_path / "missing").splits()


def test_masks_are_aligned_with_the_images_and_memory_mapped_when_cached(synth_built: Path,
                                                                        tmp_path: Path) -> None:
    cached = In9Tree(synth_built, cache_dir=tmp_path / "cache", quiet=True)
    original = cached.images("original", "val")
    assert cached.images("original", "val") is original  # served again without a lookup
    masks = cached.masks("val", original.paths)
    assert isinstance(masks, np.memmap) and masks.dtype == np.uint8
    assert masks.shape == original.images.shape[:3]
    for i, path in enumerate(original.paths):
        _, split, cls, name = Path(path).parts
        mask_file = synth_built / "fg_mask" / split / cls / f"{Path(name).stem}.npy"
        assert np.array_equal(masks[i], np.load(mask_file))
    assert set(np.unique(masks)) == {0, 1}
    plain = In9Tree(synth_built, cache=False, quiet=True)
    in_memory = plain.masks("val")  # default: aligned with the files of original/val
    assert not isinstance(in_memory, np.memmap) and np.array_equal(in_memory, masks)
    assert plain.images("original", "val") is not plain.images("original", "val")  # nothing kept
    with pytest.raises(BgbenchError, match="fg_mask/val: does not hold one mask per image"):
        cached.masks("val", original.paths[::-1])


def test_foregrounds_pair_each_mask_with_its_image_and_one_background(synth_built: Path) -> None:
    tree = In9Tree(synth_built, cache=False, quiet=True)
    fg = tree.foregrounds("val", backgrounds=True)
    mask_files = _files(synth_built / "fg_mask" / "val", ".npy")
    assert fg.mask_paths == [p.relative_to(synth_built).as_posix() for p in mask_files]
    assert fg.keys == [f"{p.parent.name}/{p.stem}" for p in mask_files] == foreground_keys(fg.paths)
    assert len(fg) == len(mask_files) == fg.images.shape[0] == fg.backgrounds.shape[0]
    for i in (0, len(fg) // 2, len(fg) - 1):
        cls, stem = fg.keys[i].split("/")
        original, background = (synth_built / v / "val" / cls / f"{stem}.JPEG"
                                for v in ("original", "only_bg_t"))
        assert np.array_equal(fg.images[i], _decode(original))
        assert np.array_equal(fg.backgrounds[i], _decode(background))
        assert np.array_equal(fg.masks[i], np.load(mask_files[i]))
        assert fg.class_names[fg.labels[i]] == cls
    assert fg.fingerprint == tree.fingerprint("original", "val")
    assert fg.background_fingerprint == tree.fingerprint("only_bg_t", "val")


def test_foregrounds_refuse_a_tree_that_does_not_pair_up(synth_built: Path, tmp_path: Path) -> None:
    root = tmp_path / "t"
    for name in ("original", "only_bg_t", "fg_mask"):
        shutil.copytree(synth_built / name, root / name)
    first_bg = _files(root / "only_bg_t" / "val", ".JPEG")[0]
    first_bg.unlink()
    tree = In9Tree(root, cache=False, quiet=True)
    assert len(tree.foregrounds("val")) == len(_files(root / "fg_mask" / "val", ".npy"))  # no bank asked for
    with pytest.raises(BgbenchError, match="only_bg_t/val: does not hold one background .*--draws needs"):
        tree.foregrounds("val", backgrounds=True, needed_by="--draws")
    image = root / "original" / "val" / first_bg.parent.name / first_bg.name
    image.unlink()
    with pytest.raises(BgbenchError, match=rf"{first_bg.stem}\.npy: mask has no image in original/val"):
        tree.foregrounds("val")
    shutil.rmtree(root / "fg_mask")
    with pytest.raises(BgbenchError, match="fg_mask/val: no foreground masks: saliency needs"):
        tree.foregrounds("val", needed_by="saliency")


def test_donors_equal_the_manifest(synth_built: Path, tmp_path: Path) -> None:
    tree = In9Tree(synth_built, cache=False)
    records = [json.loads(line) for line in (synth_built / "manifest.jsonl").read_text().splitlines()]
    kept = [r for r in records if r["status"] == "kept" and r["split"] == "val"]
    for variant in ("mixed_same", "mixed_rand", "mixed_next"):
        expected = {(r["class"], r["stem"]): (r["donors"][variant] or {}).get("class") for r in kept}
        assert tree.donors("val", variant) == expected
    rand = tree.images("mixed_rand", "val")
    labels = tree.background_labels("val", "mixed_rand", rand.paths, rand.class_names)
    donors = tree.donors("val", "mixed_rand")
    assert [rand.class_names[b] for b in labels] == [donors[(Path(p).parent.name, Path(p).stem)]
                                                     for p in rand.paths]
    assert (labels != rand.labels).any()  # mixed_rand backgrounds come from other classes too
    bare = tmp_path / "released"
    shutil.copytree(synth_built / "original", bare / "original")
    assert In9Tree(bare).donors("val", "mixed_rand") is None


def test_fingerprint_is_the_content_hash_of_the_files(synth_built: Path, tmp_path: Path) -> None:
    cached = In9Tree(synth_built, cache_dir=tmp_path / "cache", quiet=True)
    files = _files(synth_built / "mixed_rand" / "val", ".JPEG")
    classes = sorted({p.parent.name for p in files})
    digest = hashlib.sha256(b"bgbench-content-v1\n")
    for path in files:
        rel = path.relative_to(synth_built).as_posix()
        digest.update(f"{rel}\0{classes.index(path.parent.name)}\0"
                      f"{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    by_hand = digest.hexdigest()
    assert cached.fingerprint("mixed_rand", "val") == by_hand
    assert load_variant(synth_built, "mixed_rand", "val", cache=False, quiet=True).fingerprint == by_hand
    assert In9Tree(synth_built, cache=False, quiet=True).fingerprint("mixed_rand", "val") == by_hand
    assert cached.fingerprint("mixed_same", "val") != by_hand


def test_shards_partition_the_indices() -> None:
    for n in range(0, 23):
        for world in range(1, 6):
            contiguous = [shard(n, rank, world) for rank in range(world)]
            strided = [shard(n, rank, world, strided=True) for rank in range(world)]
            for parts in (contiguous, strided):
                assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n))
                assert all(p.dtype == np.int64 for p in parts)
            sizes = [len(p) for p in contiguous]
            assert max(sizes) - min(sizes) <= (1 if n else 0) and sizes == sorted(sizes, reverse=True)
            assert all(np.all(np.diff(p) == 1) for p in contiguous)
            assert all(np.all(p % world == rank) for rank, p in enumerate(strided))
    with pytest.raises(BgbenchError, match="0 <= rank < world"):
        shard(10, 3, 3)
    with pytest.raises(BgbenchError, match="world >= 1"):
        shard(10, 0, 0)


def test_batches_stream_rows_of_a_memmap(synth_built: Path, tmp_path: Path) -> None:
    images = In9Tree(synth_built, cache_dir=tmp_path / "cache", quiet=True).images("only_fg", "val").images
    assert isinstance(images, np.memmap)
    seen = list(batches(images, 4))
    assert [len(rows) for _, rows in seen][:-1] == [4] * (len(seen) - 1)
    assert np.array_equal(np.concatenate([rows for _, rows in seen]), np.asarray(images))
    picked = shard(len(images), 1, 3, strided=True)
    for index, rows in batches(images, 2, picked):
        assert not isinstance(rows, np.memmap) and np.array_equal(rows, images[index])
    with pytest.raises(BgbenchError, match="batch size must be at least 1"):
        next(batches(images, 0))
