"""``hf_clip:REPO_OR_DIR``: transformers CLIP and SigLIP models as zero-shot classifiers.

A Hub repo id (``hf_clip:openai/clip-vit-base-patch32``, ``hf_clip:google/siglip-base-patch16-224``),
downloaded by transformers when online, or a local ``save_pretrained`` folder holding the model,
its tokenizer and (optionally) its image processor. Any transformers model with ``vision_model``,
``get_text_features`` and ``logit_scale`` works (``CLIPModel``, ``SiglipModel``, ...); see
:mod:`bgbench.models.zeroshot` for the head. Text is tokenised as each family was trained: SigLIP
pads every prompt to the text model's full length, CLIP to the longest prompt of a batch (with
its attention mask); the model gets what its tokenizer returns (SigLIP's own gives no attention
mask, so padding is attended to, as in its training). Native preprocessing comes from the image
processor (as ``hf:``); without one, OpenAI CLIP mean/std at the vision config's image size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.models.common import first_line, reject, sha256_file, sha256_state_dict
from bgbench.models.hf_adapter import processor_preprocessing
from bgbench.models.zeroshot import ZeroShotParts, build_zero_shot
from bgbench.options import ModelOptions

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class HFImageTower(torch.nn.Module):
    """Normalised pixels float (N, 3, S, S) -> image embeddings (N, D), as ``get_image_features``:
    the vision model's pooled output, through ``visual_projection`` where the model has one (CLIP)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.vision_model = model.vision_model
        self.visual_projection = getattr(model, "visual_projection", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.vision_model(pixel_values=x).pooler_output
        return pooled if self.visual_projection is None else self.visual_projection(pooled)


def _source(target: str) -> str:
    if not target:
        raise BgbenchError("hf_clip: spec needs a Hub repo id or a local directory")
    local = Path(target).expanduser()
    if target.startswith((".", "/", "~")) or local.exists():
        if not (local / "config.json").is_file():
            raise BgbenchError("not a transformers model directory (no config.json)", local)
        return str(local)
    return target


def load_parts(source: str) -> tuple[Any, Any, Any]:
    """(model, tokenizer, image processor or None) of a repo id or folder; failures are one line."""
    try:
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer
    except ImportError as exc:
        raise BgbenchError("hf_clip: models need transformers: pip install 'bgbench[hf,clip]'") from exc
    try:
        model = AutoModel.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError, KeyError) as exc:
        raise BgbenchError(f"transformers could not load {source!r} ({first_line(exc, 160)}); offline? "
                           "run once online (it is cached) or give a local save_pretrained folder") from exc
    if getattr(model.config, "model_type", None) == "siglip2":
        raise BgbenchError(f"{source}: Siglip2Model (variable-resolution NaFlex inputs with patch masks) "
                           "is not supported; CLIPModel and SiglipModel are")
    missing = [a for a in ("vision_model", "get_text_features", "logit_scale") if not hasattr(model, a)]
    if missing:
        raise BgbenchError(f"{source}: {type(model).__name__} is not a CLIP-style model "
                           f"(no {', '.join(missing)})")
    try:
        processor = AutoImageProcessor.from_pretrained(source)
    except (OSError, ValueError, KeyError):
        processor = None
    return model, tokenizer, processor


def _native(model: Any, processor: Any) -> Preprocessing:
    if processor is not None:
        return processor_preprocessing(processor)
    size = int(getattr(model.config.vision_config, "image_size", 224))
    return Preprocessing(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, size, "bicubic", name="clip-default")


def _weights(source: str, model: torch.nn.Module) -> dict[str, Any]:
    local = Path(source)
    params = sha256_state_dict(model)
    if local.is_dir():
        files = sorted(local.glob("*.safetensors")) or sorted(local.glob("*.bin"))
        return {"weights": str(local), "weights_sha256": sha256_file(files[0]) if len(files) == 1 else None,
                "params_sha256": params}
    return {"weights": f"pretrained:hf/{source}", "weights_sha256": None, "params_sha256": params}


def text_encoder(model: Any, tokenizer: Any, device: torch.device) -> tuple[Any, dict[str, Any]]:
    """(list of P prompts -> float (P, D) text features, the tokenisation record)."""
    siglip = "siglip" in str(getattr(model.config, "model_type", "")).lower()
    max_length = int(getattr(model.config.text_config, "max_position_embeddings", 77))
    padding = "max_length" if siglip else "longest"

    def encode(texts: list[str]) -> torch.Tensor:
        enc = tokenizer(texts, padding=padding, truncation=True, max_length=max_length, return_tensors="pt")
        inputs = {k: enc[k].to(device) for k in ("input_ids", "attention_mask") if k in enc}
        out = model.get_text_features(**inputs)
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    return encode, {"padding": padding, "max_length": max_length}


def create(target: str, opts: ModelOptions) -> TorchClassifier:
    """Factory for ``hf_clip:REPO_OR_DIR`` (see :func:`bgbench.models.create_classifier`)."""
    reject(opts, "hf_clip:", "weights", "arch", "num_classes")
    device = torch.device(opts.device)
    source = _source(target)
    model, tokenizer, processor = load_parts(source)
    model = model.eval().to(device)
    encode, tokenisation = text_encoder(model, tokenizer, device)
    weights = _weights(source, model)
    bias = getattr(model, "logit_bias", None)
    text_model = {"library": "transformers", "model": source, "model_class": type(model).__name__,
                  "model_type": getattr(model.config, "model_type", None),
                  "tokenizer": type(tokenizer).__name__, **tokenisation}
    parts = ZeroShotParts(
        image_tower=HFImageTower(model), encode_text=encode, text_model=text_model,
        text_key=f"hf_clip:{source}:{weights['params_sha256']}",
        logit_scale=float(model.logit_scale.detach().exp()),
        logit_bias=None if bias is None else float(bias.detach()), native=_native(model, processor),
        weights=weights)
    return build_zero_shot(parts, f"hf_clip:{target}", opts, device, adapter="hf_clip")
