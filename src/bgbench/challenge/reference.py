"""A deliberately plain re-implementation of the released challenge loop, for tests and benchmarks.

Released loop (MadryLab/backgrounds_challenge): for each foreground in class order and sorted
mask order, read all of ``only_bg_t/val`` through an ImageFolder DataLoader (batch 32, no
shuffle), composite ``bg * (1 - m) + img * m`` on [0, 1] tensors and stop at the first batch
holding a prediction that differs from the foreground's class. Here ``predict`` is the mapped
prediction (logits -> label index, -1 = outside the classes), as in the released script.

:func:`reference_loop_files` re-reads and re-decodes every background for every foreground, like
the released script; :func:`reference_loop` does the same arithmetic on already-decoded tensors;
:func:`reference_matrix` evaluates every (foreground, background) pair one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bgbench.composite import composite_torch
from bgbench.data import In9Tree
from bgbench.errors import BgbenchError
from bgbench.layout import IMAGE_SUFFIX, variant_dir
from bgbench.progress import progress

RELEASED_BATCH = 32


def _to_tensor(path: Path) -> torch.Tensor:
    """torchvision ToTensor of a PIL RGB image: float32 (3, H, W) in [0, 1]."""
    with Image.open(path) as img:
        arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div(255)


def _load_batch(paths: list[Path], device: torch.device | str) -> torch.Tensor:
    """A DataLoader batch of ImageFolder images: each decoded (PIL, ToTensor), stacked (B, 3, H, W)."""
    return torch.stack([_to_tensor(p) for p in paths]).to(device)


def _first_wrong(preds: torch.Tensor, label: int) -> int | None:
    wrong = torch.nonzero(preds != label).flatten()
    return int(wrong[0]) if len(wrong) else None


def _scan(predict, x: torch.Tensor, m: torch.Tensor, label: int,
          batches: Iterable[tuple[int, torch.Tensor]]) -> dict:
    """The released inner loop for one foreground ``x`` (1, 3, H, W) with mask ``m`` (1, 1, H, W):
    composite it over each background batch ``b`` (B, 3, H, W) in [0, 1] (``start`` = index of its
    first background), in order, and stop after the first batch holding a prediction != ``label``."""
    result = {"fooled": False, "fooling_background": None, "predicted": None, "backgrounds_tried": 0}
    for start, b in batches:
        with torch.inference_mode():
            preds = predict(composite_torch(x, b, m)).cpu()
        result["backgrounds_tried"] += b.shape[0]
        first = _first_wrong(preds, label)
        if first is not None:
            result.update(fooled=True, fooling_background=start + first, predicted=int(preds[first]))
            break
    return result


def reference_loop(predict, fg_images: torch.Tensor, fg_masks: torch.Tensor, fg_labels: np.ndarray,
                   bg_images: torch.Tensor, batch_size: int = RELEASED_BATCH) -> list[dict]:
    """Per foreground, all backgrounds in order, ``batch_size`` at a time, stop at the first batch
    with a wrong prediction. Tensors as in :func:`bgbench.challenge.search.search_backgrounds`.
    Returns one dict per foreground: fooled, fooling_background (first wrong one of that batch),
    predicted, backgrounds_tried (composites evaluated: whole batches)."""
    out = []
    n_bg = bg_images.shape[0]
    for f in range(fg_images.shape[0]):
        x = fg_images[f:f + 1].float() / 255
        m = fg_masks[f:f + 1].float()
        y = int(fg_labels[f])
        batches = ((start, bg_images[start:start + batch_size].float() / 255)
                   for start in range(0, n_bg, batch_size))
        out.append(_scan(predict, x, m, y, batches))
    return out


def reference_loop_files(predict, root: str | Path, split: str = "val", batch_size: int = RELEASED_BATCH,
                         device: torch.device | str = "cpu", indices: list[int] | None = None) -> list[dict]:
    """The released loop straight from the files: masks ``fg_mask/<split>``, images ``original/<split>``,
    backgrounds ``only_bg_t/<split>`` re-read and decoded (PIL, ToTensor) for every foreground.
    ``indices`` picks foregrounds (default all). Returns dicts as :func:`reference_loop`, plus image."""
    tree = In9Tree(root)
    root = tree.root
    masks = tree.files("fg_mask", split)  # listed in ImageFolder order; decoded here, as the script did
    backgrounds = [p for p, _ in tree.files("only_bg_t", split)]
    out = []
    chosen = masks if indices is None else [masks[i] for i in indices]
    for mask_path, label in progress(chosen, desc="reference loop", unit="fg"):
        image = variant_dir(root, "original", split) / mask_path.parent.name / (mask_path.stem + IMAGE_SUFFIX)
        if not image.exists():
            raise BgbenchError("no image for this mask", image)
        x = _to_tensor(image).unsqueeze(0).to(device)
        m = torch.from_numpy(np.load(mask_path).astype(np.float32))[None, None].to(device)
        batches = ((start, _load_batch(backgrounds[start:start + batch_size], device))
                   for start in range(0, len(backgrounds), batch_size))
        out.append({"image": image.relative_to(root).as_posix(), **_scan(predict, x, m, label, batches)})
    return out


def reference_matrix(predict, fg_images: torch.Tensor, fg_masks: torch.Tensor,
                     bg_images: torch.Tensor) -> np.ndarray:
    """Prediction of every (foreground, background) pair, one composite per forward pass:
    int64 (F, N)."""
    out = np.zeros((fg_images.shape[0], bg_images.shape[0]), dtype=np.int64)
    for f in range(fg_images.shape[0]):
        x = fg_images[f:f + 1].float() / 255
        m = fg_masks[f:f + 1].float()
        for b in range(bg_images.shape[0]):
            with torch.inference_mode():
                out[f, b] = int(predict(composite_torch(x, bg_images[b:b + 1].float() / 255, m))[0])
    return out
