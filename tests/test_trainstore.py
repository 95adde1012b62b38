"""Training data that stays on disk: pread row gathers, masks and working-size copies in cache files,
the swap's bank read per batch; the process's memory does not grow with what it reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from bgbench.augment import BackgroundSwap
from bgbench.data.masks import load_masks
from bgbench.rowfile import RowWriter, backing_file, open_rows, read_rows
from bgbench.training.data import TrainData, load_train_data, shrink_train_data


def _rss_file_kb() -> int:
    """File-backed resident memory of this process (kB), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    raise AssertionError("no RssFile line")


def test_read_rows_matches_indexing_and_row_writer_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (50, 7, 5, 3), dtype=np.uint8)
    with RowWriter(tmp_path / "a.npy", array.shape) as out:
        out.write(0, array[:20])
        for i in range(20, 50):
            out[i] = array[i]
    mapped = open_rows(tmp_path / "a.npy")
    assert backing_file(mapped) == (str(tmp_path / "a.npy"), mapped.offset)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), array)
    index = np.array([3, 4, 5, 49, 0, 4, -1, 17, 18])  # runs, a repeat, a negative index
    got = read_rows(mapped, index)
    np.testing.assert_array_equal(got, array[index])
    assert got.flags.c_contiguous and not isinstance(got, np.memmap)
    np.testing.assert_array_equal(read_rows(mapped, slice(45, 60)), array[45:])
    assert backing_file(mapped[10:]) is None  # a slice: its offset is the parent's, so not trusted
    np.testing.assert_array_equal(read_rows(mapped[10:], [0, 2]), array[[10, 12]])
    np.testing.assert_array_equal(read_rows(array, [1, 2]), array[[1, 2]])
    with pytest.raises(IndexError):
        read_rows(mapped, [50])
    with pytest.raises(ValueError):
        RowWriter(tmp_path / "b.npy", (2, 3)).write(1, np.zeros((2, 3), np.uint8))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_read_rows_keeps_the_file_out_of_the_resident_set(tmp_path):
    rows = 256
    with RowWriter(tmp_path / "big.npy", (rows, 256 * 1024)) as out:  # 64 MiB
        for i in range(0, rows, 32):
            out.write(i, np.full((32, 256 * 1024), i % 251, np.uint8))
    mapped = open_rows(tmp_path / "big.npy")
    before = _rss_file_kb()
    total = sum(int(read_rows(mapped, np.arange(i, i + 16))[:, 0].sum()) for i in range(0, rows, 16))
    assert total == sum(16 * ((i // 32 * 32) % 251) for i in range(0, rows, 16))
    assert _rss_file_kb() - before < 16 * 1024  # read through pread: not mapped into the process
    again = open_rows(tmp_path / "big.npy")
    before = _rss_file_kb()
    assert int(np.asarray(again[:, ::4096]).sum()) >= 0  # touching the mapping itself does count
    assert _rss_file_kb() - before > 48 * 1024


def test_cached_masks_equal_the_files_and_are_a_memmap(synth_trainval, tmp_path):
    plain = load_masks(synth_trainval, "train", quiet=True)
    cached = load_masks(synth_trainval, "train", quiet=True, cache=True, cache_dir=tmp_path)
    assert isinstance(cached.masks, np.memmap) and backing_file(cached.masks) is not None
    np.testing.assert_array_equal(np.asarray(cached.masks), plain.masks)
    assert cached.paths == plain.paths and (cached.labels == plain.labels).all()
    entry = next((tmp_path / "masks").iterdir())
    stamp = (entry / "masks.npy").stat().st_mtime_ns
    again = load_masks(synth_trainval, "train", quiet=True, cache=True, cache_dir=tmp_path)
    np.testing.assert_array_equal(np.asarray(again.masks), plain.masks)
    assert (entry / "masks.npy").stat().st_mtime_ns == stamp  # read from the entry, not rewritten


def test_train_data_is_mapped_and_its_fingerprint_unchanged(synth_trainval, tmp_path):
    data = load_train_data(synth_trainval, "original", swap=True, cache=True, cache_dir=tmp_path, quiet=True)
    for array in (data.images, data.masks, data.bank):
        assert isinstance(array, np.memmap) and backing_file(array) is not None
    memory = load_train_data(synth_trainval, "original", swap=True, cache=False, quiet=True)
    assert memory.cache is None and data.cache == str(tmp_path)
    np.testing.assert_array_equal(np.asarray(data.masks), memory.masks)
    # the swap run's fingerprint: images' and bank's fingerprints, then the whole masks array's bytes
    images_fp = load_train_data(synth_trainval, "original", cache=False, quiet=True).fingerprint
    bank_fp = load_train_data(synth_trainval, "only_bg_t", cache=False, quiet=True).fingerprint
    expected = hashlib.sha256(f"{images_fp}\0{bank_fp}\0".encode() + memory.masks.tobytes()).hexdigest()
    assert data.fingerprint == memory.fingerprint == expected


def test_shrunk_copy_is_written_once_and_equals_the_in_memory_shrink(synth_trainval, tmp_path):
    data = load_train_data(synth_trainval, "original", swap=True, cache=True, cache_dir=tmp_path, quiet=True)
    assert data.images.shape[1:] == (56, 56, 3)
    small = shrink_train_data(data, 24, chunk=5)  # chunks that do not divide the 54 images
    in_memory = TrainData(np.asarray(data.images), data.labels, data.paths, data.class_names,
                          data.fingerprint, np.asarray(data.masks), np.asarray(data.bank), data.bank_labels)
    reference = shrink_train_data(in_memory, 24)
    for name in ("images", "masks", "bank"):
        got = getattr(small, name)
        assert isinstance(got, np.memmap) and got.dtype == np.uint8
        assert Path(got.filename).parent.parent == tmp_path / "train"
        np.testing.assert_array_equal(np.asarray(got), getattr(reference, name))
    entry = Path(small.images.filename).parent
    stamps = {p.name: p.stat().st_mtime_ns for p in entry.iterdir()}
    again = shrink_train_data(data, 24)
    assert {p.name: p.stat().st_mtime_ns for p in entry.iterdir()} == stamps
    np.testing.assert_array_equal(np.asarray(again.bank), reference.bank)
    assert shrink_train_data(data, 56) is data
    (entry / "meta.json").write_text("{not json")  # a damaged entry is written again
    np.testing.assert_array_equal(np.asarray(shrink_train_data(data, 24).masks), reference.masks)


def test_swap_with_a_memmapped_bank_equals_the_tensor_bank(tmp_path):
    rng = np.random.default_rng(1)
    bank = rng.integers(0, 256, (6, 12, 12, 3), dtype=np.uint8)
    with RowWriter(tmp_path / "bank.npy", bank.shape) as out:
        out.write(0, bank)
    images = torch.from_numpy(rng.integers(0, 256, (8, 3, 8, 8), dtype=np.uint8))
    masks = torch.from_numpy(rng.integers(0, 2, (8, 8, 8), dtype=np.uint8))
    labels = torch.arange(8) % 3
    outputs = []
    for backgrounds in (torch.from_numpy(bank).permute(0, 3, 1, 2), open_rows(tmp_path / "bank.npy")):
        swap = BackgroundSwap(backgrounds, np.arange(6) % 3, p=0.7, swap_classes="other",
                              generator=torch.Generator().manual_seed(5))
        outputs.append(swap(images, masks, labels))
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], images)


def test_no_crop_no_flip_at_the_input_size_is_the_batch_itself():
    from bgbench.training.crops import random_resized_crop

    x = torch.rand(4, 3, 16, 16)
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    assert random_resized_crop(x, 16, (1.0, 1.0), generator, flip=False) is x
    assert torch.equal(generator.get_state(), state)  # no draw: the crops of later batches are unchanged
    assert random_resized_crop(x, 8, (1.0, 1.0), generator, flip=False).shape == (4, 3, 8, 8)
    flipped = random_resized_crop(x, 16, (1.0, 1.0), torch.Generator().manual_seed(1), flip=True)
    for got, image in zip(flipped, x, strict=True):  # the flip path still runs: each image, maybe mirrored
        assert torch.allclose(got, image, atol=1e-5) or torch.allclose(got, image.flip(-1), atol=1e-5)
