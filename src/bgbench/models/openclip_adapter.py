"""``open_clip:ARCH/PRETRAINED``: OpenCLIP models as zero-shot classifiers (:mod:`bgbench.models.zeroshot`).

Target forms:

- ``ARCH/PRETRAINED``: an open_clip architecture and one of its pretrained tags
  (``open_clip:ViT-B-32/laion2b_s34b_b79k``, ``open_clip:ViT-B-32/openai``), downloaded by open_clip
  on first use (then cached); a failed download is one BgbenchError naming what was not fetched.
- ``ARCH`` with ``weights=FILE`` (``--weights``): that checkpoint; with ``pretrained=False``
  (Python only): random weights. ``ARCH`` alone is refused (it would silently be random).
- ``hf-hub:ORG/REPO`` or ``local-dir:PATH``: open_clip's own schemas (config and weights together).

Native preprocessing is the model's ``preprocess_cfg`` (mean/std, image size, interpolation);
dataset images (already centre crops) are resized to the image size, not cropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.models.common import (
    ModelOptions,
    existing_file,
    first_line,
    normalise_interpolation,
    reject,
    sha256_file,
    sha256_state_dict,
    weights_info,
)
from bgbench.models.zeroshot import ZeroShotParts, build_zero_shot, require_open_clip

SCHEMAS = ("hf-hub:", "local-dir:")


def parse_target(target: str, opts: ModelOptions) -> tuple[str, str | None, str]:
    """(open_clip model name, ``pretrained`` argument (tag, file or None), weights label) of a target."""
    open_clip = require_open_clip()
    if target.startswith(SCHEMAS):
        if target.startswith("local-dir:") and not Path(target[len("local-dir:"):]).expanduser().is_dir():
            raise BgbenchError("open_clip local-dir: folder not found", target[len("local-dir:"):])
        return target, None, target
    arch, _, tag = target.partition("/")
    if not arch:
        raise BgbenchError("open_clip: spec needs ARCH/PRETRAINED, e.g. open_clip:ViT-B-32/laion2b_s34b_b79k")
    if arch not in open_clip.list_models():
        close = [m for m in open_clip.list_models() if arch.lower()[:5] in m.lower()][:5]
        hint = f" (similar: {', '.join(close)})" if close else ""
        raise BgbenchError(f"unknown open_clip architecture {arch!r}{hint}")
    if opts.weights is not None:
        if tag:
            raise BgbenchError(f"open_clip:{target} names pretrained weights and --weights a file: give one")
        path = existing_file(opts.weights, "weights file")
        return arch, str(path), str(path)
    if opts.pretrained is False:
        return arch, None, "random-init"
    if not tag:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)[:8]) or "none shipped"
        raise BgbenchError(f"open_clip:{arch} names no weights: use open_clip:{arch}/TAG (tags: {tags}) "
                           "or --weights FILE")
    return arch, tag, f"pretrained:open_clip/{arch}/{tag}"


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """open_clip reports a failed download with ``logging.error`` on the root logger, which (with no
    handler configured) prints a second line; a NullHandler meanwhile keeps the error to ours."""
    root = logging.getLogger()
    added = logging.NullHandler() if not root.handlers else None
    if added is not None:
        root.addHandler(added)
    try:
        yield
    finally:
        if added is not None:
            root.removeHandler(added)


def load_model(name: str, pretrained: str | None, label: str, device: torch.device) -> torch.nn.Module:
    """``open_clip.create_model`` in fp32 on ``device``; a failed fetch or load is one BgbenchError."""
    open_clip = require_open_clip()
    try:
        with _quiet_root_logger():
            return open_clip.create_model(name, pretrained=pretrained, device=device, precision="fp32")
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        what = label if label.startswith("pretrained:") else name
        raise BgbenchError(f"open_clip could not load {what} ({first_line(exc, 300)}); offline? run once "
                           "online (the weights are cached) or pass --weights FILE") from exc


def native_preprocessing(model: torch.nn.Module) -> Preprocessing:
    """The model's ``preprocess_cfg`` as a :class:`Preprocessing` (resize to its size, no crop)."""
    cfg = getattr(model.visual, "preprocess_cfg", None) or {}
    size = cfg.get("size") or getattr(model.visual, "image_size", 224)
    side = int(max(size)) if isinstance(size, (tuple, list)) else int(size)
    mean = tuple(float(v) for v in cfg.get("mean", (0.48145466, 0.4578275, 0.40821073)))
    std = tuple(float(v) for v in cfg.get("std", (0.26862954, 0.26130258, 0.27577711)))
    return Preprocessing(mean=mean, std=std, input_size=side,  # type: ignore[arg-type]
                         interpolation=normalise_interpolation(cfg.get("interpolation", "bicubic")),
                         name="open_clip")


def _weights_record(name: str, pretrained: str | None, label: str, model: torch.nn.Module) -> dict[str, Any]:
    if pretrained is not None and Path(pretrained).is_file():
        return weights_info(Path(pretrained))
    if name.startswith("local-dir:"):
        files = sorted(Path(name[len("local-dir:"):]).expanduser().glob("*.safetensors"))
        return {"weights": label, "weights_sha256": sha256_file(files[0]) if len(files) == 1 else None,
                "params_sha256": sha256_state_dict(model)}
    return {"weights": label, "weights_sha256": None, "params_sha256": sha256_state_dict(model)}


def create(target: str, opts: ModelOptions) -> TorchClassifier:
    """Factory for ``open_clip:ARCH/PRETRAINED`` (see :func:`bgbench.models.create_classifier`)."""
    reject(opts, "open_clip:", "arch", "num_classes")
    device = torch.device(opts.device)
    name, pretrained, label = parse_target(target, opts)
    model = load_model(name, pretrained, label, device).eval()
    tokenizer = require_open_clip().get_tokenizer(name)
    weights = _weights_record(name, pretrained, label, model)

    def encode_text(texts: list[str]) -> torch.Tensor:
        return model.encode_text(tokenizer(texts).to(device))

    bias = getattr(model, "logit_bias", None)
    text_model = {"library": "open_clip", "model": name, "pretrained": label,
                  "tokenizer": type(tokenizer).__name__,
                  "context_length": getattr(tokenizer, "context_length", None)}
    parts = ZeroShotParts(
        image_tower=model.visual, encode_text=encode_text, text_model=text_model,
        text_key=f"open_clip:{name}:{weights.get('weights_sha256') or weights.get('params_sha256')}",
        logit_scale=float(model.logit_scale.detach().exp()),
        logit_bias=None if bias is None else float(bias.detach()),
        native=native_preprocessing(model), weights=weights)
    return build_zero_shot(parts, f"open_clip:{target}", opts, device, adapter="open_clip")
