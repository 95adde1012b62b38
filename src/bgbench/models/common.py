"""Helpers shared by the model adapters: options, preprocessing presets, hashing, state-dict loading.

Every adapter factory is called as ``factory(target, options)``: ``options`` is the whole
:class:`ModelOptions` (spec included), its ``device`` already concrete (``cpu``, ``cuda``,
``cuda:N``; :func:`bgbench.models.create_classifier` resolved ``auto``).
"""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bgbench.classes import IN9_MEAN, IN9_STD
from bgbench.errors import BgbenchError
from bgbench.hashing import sha256_file
from bgbench.models.base import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, resize_square
from bgbench.options import ModelOptions

INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)

PRESETS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
    "inception": (INCEPTION_MEAN, INCEPTION_STD),
    "in9": (IN9_MEAN, IN9_STD),
}
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


def reject(opts: ModelOptions, adapter: str, *names: str) -> None:
    """Raise when an option that ``adapter`` cannot honour was set to a non-default value."""
    defaults = ModelOptions()
    for name in names:
        if getattr(opts, name) != getattr(defaults, name):
            flag = "--" + name.replace("_", "-")
            raise BgbenchError(f"{flag} does not apply to {adapter} models")


def output_space(num_outputs: int) -> str:
    """``imagenet-1k`` for 1000 outputs, ``in9`` for 9, else ``custom``."""
    return {1000: "imagenet-1k", 9: "in9"}.get(int(num_outputs), "custom")


def normalise_interpolation(name: Any) -> str:
    """Map a library's interpolation name (str, enum, PIL int) to bilinear|bicubic|nearest."""
    text = str(getattr(name, "value", name)).lower()
    pil = {"0": "nearest", "2": "bilinear", "3": "bicubic", "1": "bicubic", "4": "bilinear", "5": "bicubic"}
    text = pil.get(text, text)
    if "nearest" in text:
        return "nearest"
    if "bicubic" in text or "lanczos" in text:
        return "bicubic"
    return "bilinear"


def released_preprocessing(num_outputs: int, input_size: int | None = None) -> Preprocessing:
    """The released script: images as they are (no resize), ImageNet mean/std, IN-9 mean/std for 9 classes.

    ``input_size`` is set only for graphs that cannot take another size (fixed-shape ONNX/TFLite).
    """
    mean, std = PRESETS["in9"] if num_outputs == 9 else PRESETS["imagenet"]
    return Preprocessing(mean=mean, std=std, input_size=input_size, interpolation="bilinear", name="released")


def choose_preprocessing(opts: ModelOptions, native: Preprocessing, num_outputs: int,
                         fixed_size: int | None = None) -> Preprocessing:
    """Pick the preprocessing asked for by ``opts.preprocess`` given the adapter's ``native`` one.

    ``fixed_size`` is the graph's compulsory input size (None when the model accepts any size).
    """
    if opts.preprocess == "native":
        return native
    if opts.preprocess == "released":
        return released_preprocessing(num_outputs, fixed_size)
    mean, std = PRESETS[opts.preprocess]
    return Preprocessing(mean=mean, std=std, input_size=native.input_size,
                         interpolation=native.interpolation, name=opts.preprocess)


def normalise(x01: torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """[0,1] float (N,3,H,W) -> resized (when ``prep.input_size``) and normalised float32 (N,3,S,S)."""
    x = x01.float()
    if prep.clamp:
        x = x.clamp(0.0, 1.0)
    if prep.input_size is not None:
        x = resize_square(x, prep.input_size, prep.interpolation)
    mean = torch.tensor(prep.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


def sha256_state_dict(module: torch.nn.Module) -> str:
    """Hex sha256 over a module's state dict (names, dtypes, shapes, bytes), in key order."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        if t.numel():
            digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool
                          else t.numpy().tobytes())
    return digest.hexdigest()


def existing_file(path: str | Path, what: str) -> Path:
    """Return ``path`` as a Path, or raise a one-line BgbenchError when it is not a readable file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise BgbenchError(f"{what} not found", p)
    if not p.is_file():
        raise BgbenchError(f"{what} is not a file", p)
    return p


def weights_info(path: Path) -> dict[str, Any]:
    """The ``weights`` record of a result for weights loaded from ``path``."""
    return {"weights": str(path), "weights_sha256": sha256_file(path)}


def wants_pretrained(opts: ModelOptions) -> bool:
    """Whether to ask the library for its pretrained weights: never with ``weights=FILE``, else
    unless ``pretrained=False``."""
    return opts.weights is None and opts.pretrained is not False


def make_module(library: str, name: str, make: Callable[..., torch.nn.Module], opts: ModelOptions,
                **kwargs: Any) -> torch.nn.Module:
    """``make(name, **kwargs)``, with ``num_classes=opts.num_classes`` when set; the library's errors
    (a failed download, a missing hub file) become one BgbenchError with the offline hint."""
    if opts.num_classes is not None:
        kwargs["num_classes"] = int(opts.num_classes)
    try:
        return make(name, **kwargs)
    except (OSError, RuntimeError, ValueError) as exc:
        raise BgbenchError(f"{library} could not create {name!r} ({first_line(exc, 160)}); offline? give a "
                           "local weights file with --weights FILE (weights=FILE in Python; docs/models.md, "
                           "'Offline')") from exc


def load_weights(module: torch.nn.Module, opts: ModelOptions, pretrained_tag: str | None) -> dict[str, Any]:
    """Load ``opts.weights`` (a state dict file) into ``module`` when given; return the ``weights``
    record of ``describe()``: that file and its sha256, else ``pretrained:<pretrained_tag>`` with the
    parameters' sha256 (the library loaded them), else ``random-init`` (``pretrained_tag`` None)."""
    if opts.weights is not None:
        state, path = load_state_dict_file(opts.weights, opts.trust_pickle)
        load_into(module, state, path)
        return weights_info(path)
    if pretrained_tag is not None:
        return {"weights": f"pretrained:{pretrained_tag}", "weights_sha256": None,
                "params_sha256": sha256_state_dict(module)}
    return {"weights": "random-init", "weights_sha256": None}


def probe_num_outputs(module: torch.nn.Module, size: int = 224) -> int:
    """Outputs per image of ``module`` on one zero image of ``size`` (tuples/HF outputs unwrapped)."""
    with torch.inference_mode():
        out = module.eval()(torch.zeros(1, 3, size, size, device=_module_device(module)))
    if isinstance(out, (tuple, list)):
        out = out[0]
    if hasattr(out, "logits"):
        out = out.logits
    if not isinstance(out, torch.Tensor) or out.ndim < 2 or out.shape[0] != 1:
        raise BgbenchError(f"model output is not (N, classes) logits (got {type(out).__name__} "
                           f"{tuple(getattr(out, 'shape', ()))})")
    return int(out.reshape(1, -1).shape[1])


def _module_device(module: torch.nn.Module) -> torch.device:
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


def torch_load(path: Path, trust_pickle: bool = False) -> Any:
    """``torch.load`` on the CPU with ``weights_only=True`` unless the user opted into pickle.

    A file that needs pickle raises a BgbenchError explaining ``--trust-pickle``; a file that is not a
    torch checkpoint at all raises a BgbenchError saying so.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if trust_pickle or found is None:
            detail = re.search(r"WeightsUnpickler error:\s*([^\n]+)", str(exc))
            reason = detail.group(1).strip() if detail else first_line(exc)
            raise BgbenchError(f"not a loadable PyTorch checkpoint ({reason})", path) from exc
        raise BgbenchError(
            f"checkpoint holds pickled Python objects besides tensors (e.g. {found.group(1)}), which can run "
            "arbitrary code when loaded; refused (weights_only=True). If you trust its author, pass "
            "--trust-pickle (trust_pickle=True)", path) from exc
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ModuleNotFoundError) as exc:
        raise BgbenchError(f"not a loadable PyTorch checkpoint ({first_line(exc)})", path) from exc


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type name when empty), at most ``limit`` chars."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


def first_sentence(exc: BaseException, limit: int = 160) -> str:
    """The first sentence of an exception's first line (torch's long advice dropped), never cut
    mid-word: at most ``limit`` characters, ending in "..." when shortened."""
    text = first_line(exc, 10_000)
    head, dot, _ = text.partition(". ")
    text = head if dot else text.rstrip(".")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + "..."
    return text


def load_state_dict_file(path: str | Path, trust_pickle: bool = False
                         ) -> tuple[dict[str, torch.Tensor], Path]:
    """Read a state dict from a ``.safetensors`` file or a torch file (.pth/.pt/.bin/...).

    A torch file holding a training checkpoint (``model`` / ``state_dict`` entry) is unwrapped and
    cleaned with :func:`clean_state_dict`. Returns (state dict, path).
    """
    p = existing_file(path, "weights file")
    if p.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(p)), p
        except (SafetensorError, OSError, ValueError) as exc:
            raise BgbenchError(f"not a readable safetensors file ({first_line(exc)})", p) from exc
    obj = torch_load(p, trust_pickle)
    return clean_state_dict(extract_state_dict(obj, p)), p


def extract_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: ``obj["model"]``, else ``obj["state_dict"]``, else ``obj``."""
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if not isinstance(obj, dict):
        raise BgbenchError(f"checkpoint holds a {type(obj).__name__}, not a state dict", path)
    for key in ("model", "state_dict"):
        inner = obj.get(key)
        if isinstance(inner, dict):
            obj = inner
            break
        if isinstance(inner, torch.nn.Module):
            return inner.state_dict()
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise BgbenchError("checkpoint holds no tensors (expected a state dict, or a dict with a "
                           "'model' or 'state_dict' entry)", path)
    return tensors


IGNORED_PREFIXES = ("normalizer.", "attacker.", "normalize.")


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip DataParallel's ``module.`` and the robustness library's wrappers.

    The robustness library saves ``module.model.*`` (the network), ``module.attacker.model.*`` (a
    copy) and ``module.normalizer.*`` / ``module.attacker.normalize.*`` (the normalisation, which the
    adapter applies itself). ``module.`` is removed, ``normalizer.*`` / ``attacker.*`` entries are
    dropped, and ``model.`` is removed when every remaining key carries it.
    """
    out = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    robustness = any(k.startswith("model.") for k in out) and all(
        k.startswith(("model.", *IGNORED_PREFIXES)) for k in out)
    if robustness:
        return {k[len("model."):]: v for k, v in out.items() if k.startswith("model.")}
    return out


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path | str) -> None:
    """``module.load_state_dict(state, strict=True)`` with mismatches reported as one BgbenchError."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
             for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s) ({_few(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s) ({_few(unexpected)})")
    if wrong:
        problems.append(f"{len(wrong)} shape mismatch(es) ({_few(wrong)})")
    if problems:
        raise BgbenchError("weights do not fit the architecture: " + "; ".join(problems), path)
    module.load_state_dict(state, strict=True)


def _few(items: list[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (", ..." if len(items) > n else "")


def reset_head(module: torch.nn.Module, num_classes: int) -> None:
    """Give ``module`` a fresh ``num_classes``-way last layer (timm's reset_classifier, else the
    last torch.nn.Linear replaced)."""
    if hasattr(module, "reset_classifier"):
        module.reset_classifier(num_classes)
        return
    last = [(name, m) for name, m in module.named_modules() if isinstance(m, torch.nn.Linear)]
    if not last:
        raise BgbenchError("cannot find the model's last linear layer to replace by a new head")
    name, layer = last[-1]
    parent = module.get_submodule(name.rsplit(".", 1)[0]) if "." in name else module
    setattr(parent, name.rsplit(".", 1)[-1], torch.nn.Linear(layer.in_features, num_classes))
