"""Background-swap augmentation: foreground pixels kept exactly, backgrounds from the bank, the
class rule, reproducibility, the moved-foreground variant, and reading a built tree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgbench.augment import BackgroundSwap, load_swap_data
from bgbench.errors import BgbenchError


def _batch(n: int = 12, size: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = torch.as_tensor(rng.integers(0, 256, (n, 3, size, size)), dtype=torch.uint8)
    masks = torch.zeros((n, 1, size, size), dtype=torch.bool)
    for i in range(n):
        y, x = rng.integers(2, size // 2, 2)
        masks[i, 0, y:y + size // 3, x:x + size // 3] = True
    labels = torch.as_tensor(rng.integers(0, 3, n), dtype=torch.long)
    bank = torch.as_tensor(rng.integers(0, 256, (9, 3, size, size)), dtype=torch.uint8)
    bank_labels = torch.arange(9) % 3
    return images, masks, labels, bank, bank_labels


@pytest.mark.parametrize("dtype", ["uint8", "float"])
def test_foreground_pixels_are_kept_exactly_and_backgrounds_come_from_the_bank(dtype):
    images, masks, labels, bank, bank_labels = _batch()
    if dtype == "float":
        images, bank = images.float() / 255, bank.float() / 255
    swap = BackgroundSwap(bank, bank_labels, p=1.0, swap_classes="other",
                          generator=torch.Generator().manual_seed(1))
    out = swap(images, masks, labels)
    assert out.dtype == images.dtype and out.shape == images.shape
    m = masks.expand_as(images)
    assert torch.equal(out[m], images[m])  # every foreground pixel, bit for bit
    for i in range(len(images)):
        matches = [b for b in range(len(bank)) if torch.equal(out[i][~m[i]], bank[b][~m[i]])]
        assert len(matches) == 1, i
        assert int(bank_labels[matches[0]]) != int(labels[i])  # never its own class


def test_other_class_rule_over_many_draws_and_any_reaches_own_class():
    _, _, _, bank, bank_labels = _batch()
    labels = torch.arange(300) % 3
    other = BackgroundSwap(bank, bank_labels, p=1.0, swap_classes="other",
                           generator=torch.Generator().manual_seed(0))
    drawn, index = other.draw(labels, torch.device("cpu"))
    assert bool(drawn.all())
    assert not bool((bank_labels[index] == labels).any())
    assert set(index.tolist()) == set(range(9))  # uniform over the allowed images: all appear
    anyc = BackgroundSwap(bank, bank_labels, p=1.0, swap_classes="any",
                          generator=torch.Generator().manual_seed(0))
    _, index = anyc.draw(labels, torch.device("cpu"))
    assert bool((bank_labels[index] == labels).any())


def test_probability_and_seed():
    images, masks, labels, bank, bank_labels = _batch(n=400, size=8)
    none = BackgroundSwap(bank, bank_labels, p=0.0)
    assert torch.equal(none(images, masks, labels), images)
    half = BackgroundSwap(bank, bank_labels, p=0.5, generator=torch.Generator().manual_seed(3))
    drawn, _ = half.draw(labels, torch.device("cpu"))
    assert 150 < int(drawn.sum()) < 250
    a = BackgroundSwap(bank, bank_labels, p=0.5, generator=torch.Generator().manual_seed(7))
    b = BackgroundSwap(bank, bank_labels, p=0.5, generator=torch.Generator().manual_seed(7))
    a, b = a(images, masks, labels), b(images, masks, labels)
    assert torch.equal(a, b)


def test_a_class_with_no_other_background_is_left_unchanged():
    images, masks, _, bank, _ = _batch(n=4)
    labels = torch.zeros(4, dtype=torch.long)
    swap = BackgroundSwap(bank, torch.zeros(9, dtype=torch.long), p=1.0, swap_classes="other")
    assert torch.equal(swap(images, masks, labels), images)


def test_moved_foreground_pastes_only_its_own_pixels():
    images, masks, labels, bank, bank_labels = _batch(n=6, size=32)
    images = images.clone()
    colours = torch.tensor([[250, 10, 10]], dtype=torch.uint8).view(1, 3, 1, 1)
    images[masks.expand_as(images)] = colours.expand_as(images)[masks.expand_as(images)]
    bank = torch.zeros_like(bank)  # black backgrounds: every non-black pixel comes from a foreground
    swap = BackgroundSwap(bank, bank_labels, p=1.0, swap_classes="any", scale=(0.5, 1.5), translate=0.3,
                          generator=torch.Generator().manual_seed(0))
    out = swap(images, masks, labels)
    pixels = out.permute(0, 2, 3, 1).reshape(-1, 3)
    seen = {tuple(p) for p in pixels.tolist()}
    assert seen <= {(0, 0, 0), (250, 10, 10)}
    moved = (out[:, 0] == 250).float().sum(dim=(1, 2))
    assert not torch.equal(moved, masks[:, 0].float().sum(dim=(1, 2)))  # sizes changed


def test_bad_arguments_are_one_line_errors():
    _, _, _, bank, bank_labels = _batch()
    with pytest.raises(BgbenchError, match="probability"):
        BackgroundSwap(bank, bank_labels, p=1.5)
    with pytest.raises(BgbenchError, match="swap-classes"):
        BackgroundSwap(bank, bank_labels, swap_classes="same")
    with pytest.raises(BgbenchError, match="one label per bank image"):
        BackgroundSwap(bank, bank_labels[:3])


def test_load_swap_data_reads_a_built_tree(synth_built, tmp_path):
    data = load_swap_data(synth_built, "val", cache=False, quiet=True)
    assert data.images.shape[0] == data.masks.shape[0] == data.labels.shape[0] > 0
    assert data.bank.shape[1:] == data.images.shape[1:] and set(np.unique(data.masks)) <= {0, 1}
    images = torch.as_tensor(np.asarray(data.images)).permute(0, 3, 1, 2)
    masks = torch.as_tensor(np.asarray(data.masks)).bool()[:, None]
    bank = torch.as_tensor(np.asarray(data.bank)).permute(0, 3, 1, 2)
    out = BackgroundSwap(bank, data.bank_labels, p=1.0)(images, masks, torch.as_tensor(data.labels))
    assert torch.equal(out[masks.expand_as(out)], images[masks.expand_as(images)])
    (tmp_path / "original" / "val" / "00_dog").mkdir(parents=True)
    with pytest.raises(BgbenchError, match="fg_mask"):
        load_swap_data(tmp_path, "val")


def test_docs_train_pytorch_snippet_runs(synth_trainval, tmp_path, monkeypatch):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "train.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (tmp_path / "data").symlink_to(synth_trainval)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(snippet, "docs/train.md", "exec"), scope)
    out, images, masks = scope["augmented"], scope["images"], scope["masks"]
    m = masks[:, None].expand_as(images)
    assert out.shape == images.shape and torch.equal(out[m], images[m])
