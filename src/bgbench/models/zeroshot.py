"""Zero-shot (CLIP-style) classifiers: class prompts become a fixed linear head on the image tower.

The head is the standard prompt ensemble. For each class ``c`` and template ``t`` the text tower
embeds the prompt ``t(c)``; the class embedding is the mean over templates of the L2-normalised
prompt embeddings, normalised again. For [0, 1] images the classifier computes

    logits = logit_scale * normalise(image_tower(x)) @ class_embeddings.T (+ logit_bias)

float32 (N, C), with ``C`` = 1000 (``prompts="imagenet"``: open_clip's ImageNet class names, then
the usual 1000 -> 9 label map) or 9 (``prompts="in9"``: the nine super-classes prompted directly,
a 9-way model). SigLIP models also carry a ``logit_bias``: it is added (so the logits are the
model's own), and being one number shared by all classes it changes no argmax, no softmax and no
gradient of a class score.

Class names and templates are the ones open_clip ships (``IMAGENET_CLASSNAMES``,
``OPENAI_IMAGENET_TEMPLATES`` (80), ``SIMPLE_IMAGENET_TEMPLATES`` (7)); the nine super-class names
are the WordNet words of the IN-9 classes. The text embeddings are computed once per (text model,
prompt set) and kept in memory for the process (:data:`_TEXT_CACHE`); the classifier's
``describe()`` records the text model, the class names, the templates and their counts under
``zero_shot``, so every result that records the model records its prompts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from bgbench.classes import IN9_CLASSES
from bgbench.errors import BgbenchError
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.models.common import choose_preprocessing
from bgbench.options import ModelOptions
from bgbench.progress import progress

#: the prompt name of each IN-9 super-class (its WordNet lemma; ``instrument`` is n03800933,
#: "musical instrument")
IN9_PROMPT_NAMES: dict[str, str] = {name: name for name in IN9_CLASSES} | {"instrument": "musical instrument"}
CLIP_EXTRA = "pip install 'bgbench[clip]'"

#: (text model key, prompt set name, template set name) -> float32 (C, D) class embeddings on the CPU
_TEXT_CACHE: dict[tuple[str, str, str], torch.Tensor] = {}


def require_open_clip() -> Any:
    """The ``open_clip`` module, or a one-line BgbenchError naming the extra that installs it."""
    try:
        import open_clip
    except ImportError as exc:
        raise BgbenchError(f"zero-shot models need open_clip_torch (its ImageNet class names, prompt "
                           f"templates and the open_clip: models): {CLIP_EXTRA}") from exc
    return open_clip


@dataclass(frozen=True)
class PromptSet:
    """The classes and templates of a zero-shot head: ``class_names`` (C,) in output order,
    ``templates`` (T,) format strings holding one ``{}`` where the class name goes."""

    name: str
    class_names: tuple[str, ...]
    class_source: str
    template_set: str
    templates: tuple[str, ...]
    template_source: str

    def prompts(self, class_name: str) -> list[str]:
        """The T prompts of one class, in template order."""
        return [t.replace("{}", class_name) for t in self.templates]

    def describe(self) -> dict[str, Any]:
        return {"prompts": self.name, "class_source": self.class_source, "n_classes": len(self.class_names),
                "class_names": list(self.class_names), "template_set": self.template_set,
                "template_source": self.template_source, "n_templates": len(self.templates),
                "templates": list(self.templates), "n_prompts": len(self.class_names) * len(self.templates),
                "ensemble": "mean over templates of L2-normalised text features, L2-normalised again"}


def prompt_set(prompts: str = "imagenet", templates: str = "openai") -> PromptSet:
    """The :class:`PromptSet` of ``prompts`` (imagenet | in9) with ``templates`` (openai | simple)."""
    open_clip = require_open_clip()
    table = {"openai": "OPENAI_IMAGENET_TEMPLATES", "simple": "SIMPLE_IMAGENET_TEMPLATES"}
    if templates not in table or prompts not in ("imagenet", "in9"):
        raise BgbenchError(f"unknown prompt set {prompts!r} / templates {templates!r} "
                           "(expected imagenet|in9 and openai|simple)")
    shipped = getattr(open_clip, table[templates])
    texts = tuple(t("{}") if callable(t) else str(t) for t in shipped)
    if prompts == "imagenet":
        names = tuple(open_clip.IMAGENET_CLASSNAMES)
        source = "open_clip.IMAGENET_CLASSNAMES"
    else:
        names = tuple(IN9_PROMPT_NAMES[c] for c in IN9_CLASSES)
        source = "IN-9 super-classes (WordNet lemmas), in folder order"
    return PromptSet(prompts, names, source, templates, texts, f"open_clip.{table[templates]}")


def class_embeddings(encode_text: Callable[[list[str]], torch.Tensor], prompts: PromptSet, key: str,
                     batch_size: int = 1024, quiet: bool = False) -> torch.Tensor:
    """float32 (C, D) unit-norm class embeddings on the CPU: for each class the mean over templates
    of the normalised ``encode_text`` features (float (P, D) for P prompts), normalised again.

    Cached in memory under (``key``, prompt set, template set): ``key`` names the text model and its
    weights, so another model or other prompts are computed afresh.
    """
    cache_key = (key, prompts.name, prompts.template_set)
    if cache_key in _TEXT_CACHE:
        return _TEXT_CACHE[cache_key]
    per_batch = max(1, batch_size // len(prompts.templates))
    names = prompts.class_names
    out = []
    with torch.inference_mode(), progress(total=len(names), desc="text prompts", unit="class",
                                          quiet=quiet) as bar:
        for start in range(0, len(names), per_batch):
            chunk = names[start:start + per_batch]
            feats = encode_text([p for name in chunk for p in prompts.prompts(name)]).float()
            feats = F.normalize(feats, dim=-1).view(len(chunk), len(prompts.templates), -1)
            out.append(F.normalize(feats.mean(dim=1), dim=-1).cpu())
            bar.update(len(chunk))
    table = torch.cat(out).contiguous()
    _TEXT_CACHE[cache_key] = table
    return table


class ZeroShotHead(torch.nn.Module):
    """Normalised model input float (N, 3, S, S) -> logits float32 (N, C).

    ``image_tower`` maps the input to image features (N, D) (a tensor, or an output whose
    ``pooler_output`` is one); ``text`` (C, D) are unit-norm class embeddings; ``logit_scale`` is the
    model's (already exponentiated) temperature and ``logit_bias`` its shared bias or None.
    Gradients flow through the image tower; the text side is a constant buffer.
    """

    def __init__(self, image_tower: torch.nn.Module, text: torch.Tensor, logit_scale: float,
                 logit_bias: float | None = None) -> None:
        super().__init__()
        self.image_tower = image_tower
        self.register_buffer("text", text.float().contiguous())
        self.logit_scale = float(logit_scale)
        self.logit_bias = None if logit_bias is None else float(logit_bias)

    def reset_classifier(self, num_classes: int) -> None:
        """What training calls to give a model a new head: refused in one line (fine-tuning a
        zero-shot model, its text head kept or replaced, is not implemented)."""
        raise BgbenchError(f"bgbench train cannot train a zero-shot model yet (its head is {len(self.text)} "
                           f"text embeddings, asked for a new {num_classes}-way head); train a timm, "
                           "torchvision, built-in or checkpoint model")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.image_tower(x)
        if not isinstance(feats, torch.Tensor):
            feats = feats[0] if isinstance(feats, (tuple, list)) else feats.pooler_output
        img = F.normalize(feats.float(), dim=-1)
        logits = self.logit_scale * (img @ self.text.t())
        return logits if self.logit_bias is None else logits + self.logit_bias


@dataclass
class ZeroShotParts:
    """What an adapter hands :func:`build_zero_shot`: the image tower, a text encoder
    (list of P prompts -> float (P, D) features on the model's device), the text model's
    description and cache key, the temperature and bias, the native preprocessing and the weights
    record of ``describe()``."""

    image_tower: torch.nn.Module
    encode_text: Callable[[list[str]], torch.Tensor]
    text_model: dict[str, Any]
    text_key: str
    logit_scale: float
    logit_bias: float | None
    native: Preprocessing
    weights: dict[str, Any]


def build_zero_shot(parts: ZeroShotParts, spec: str, opts: ModelOptions, device: torch.device,
                    adapter: str) -> TorchClassifier:
    """The :class:`TorchClassifier` of a zero-shot model under ``opts.prompts`` / ``opts.templates``."""
    prompts = prompt_set(opts.prompts, opts.templates)
    text = class_embeddings(parts.encode_text, prompts, parts.text_key)
    n = len(prompts.class_names)
    prep = choose_preprocessing(opts, parts.native, n)
    head = ZeroShotHead(parts.image_tower, text, parts.logit_scale, parts.logit_bias)
    zero_shot = {"text_model": parts.text_model, **prompts.describe(), "logit_scale": parts.logit_scale,
                 "logit_bias": parts.logit_bias, "text_embedding_dim": int(text.shape[1])}
    info = {"adapter": adapter, **parts.weights, "preprocess_mode": opts.preprocess,
            "input_size": prep.input_size, "output_space": "imagenet-1k" if n == 1000 else "in9",
            "zero_shot": zero_shot}
    return TorchClassifier(module=head, spec=spec, num_outputs=n, preprocessing=prep, device=device,
                           precision=opts.precision, info=info)
