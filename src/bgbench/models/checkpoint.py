"""``ckpt:FILE --arch NAME --num-classes N``: checkpoints saved by training code.

Reads the authors' released IN-9L format (robustness library) as well as plain state dicts: a dict
with ``model`` (else ``state_dict``, else the dict itself), keys prefixed ``module.``, the network
under ``model.``, extra ``normalizer.*`` / ``attacker.*`` entries (ignored) and scalars such as
``epoch``. Loaded with ``weights_only=True``; a file that needs pickle is refused unless
``trust_pickle=True`` (``--trust-pickle``).

The architecture is a timm name (``--arch resnet50``) or ``torchvision:NAME``. Native preprocessing:
the mean/std stored in the checkpoint's ``normalizer.new_mean`` / ``new_std`` when present, else the
IN-9 mean/std for 9-class models, else the architecture's own (timm) config; images are kept at their
size (the authors' models were trained and tested on 224-px images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.models.common import (
    IN9_MEAN,
    IN9_STD,
    ModelOptions,
    choose_preprocessing,
    clean_state_dict,
    existing_file,
    extract_state_dict,
    load_into,
    load_state_dict_file,
    output_space,
    sha256_file,
    torch_load,
)


def stored_normaliser(raw: dict[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The robustness library's ``normalizer.new_mean`` / ``new_std`` (any ``module.`` prefix), if any."""
    mean = std = None
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            continue
        bare = key[len("module."):] if key.startswith("module.") else key
        if bare == "normalizer.new_mean":
            mean = value
        elif bare == "normalizer.new_std":
            std = value
    if mean is None or std is None or mean.numel() != 3 or std.numel() != 3:
        return None
    return tuple(float(v) for v in mean.flatten()), tuple(float(v) for v in std.flatten())


def build_architecture(arch: str, num_classes: int) -> torch.nn.Module:
    """A randomly initialised ``arch`` (timm name, ``torchvision:NAME`` or ``python:MODULE:CALLABLE``,
    the network ``bgbench train`` fine-tuned) with ``num_classes`` outputs."""
    if arch.startswith("python:"):
        return _python_architecture(arch, num_classes)
    if arch.startswith("torchvision:"):
        import torchvision

        name = arch.split(":", 1)[1]
        if name not in torchvision.models.list_models():
            raise BgbenchError(f"unknown torchvision architecture {name!r}")
        return torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    import timm

    name = arch[len("timm:"):] if arch.startswith("timm:") else arch
    if not timm.is_model(name):
        raise BgbenchError(f"unknown timm architecture {name!r} for --arch")
    return timm.create_model(name, pretrained=False, num_classes=num_classes)


def _python_architecture(arch: str, num_classes: int) -> torch.nn.Module:
    """``python:MODULE:CALLABLE``'s module (the callable's own, or a returned Classifier's), its last
    linear layer replaced when it does not have ``num_classes`` outputs."""
    from bgbench.models.common import reset_head
    from bgbench.models.python_adapter import call_target

    made, _ = call_target(arch[len("python:"):])
    made = getattr(made, "module", made)
    if not isinstance(made, torch.nn.Module):
        raise BgbenchError(f"{arch}() gave no torch module to load the checkpoint into")
    linears = [m for m in made.modules() if isinstance(m, torch.nn.Linear)]
    if linears and linears[-1].out_features != num_classes:
        reset_head(made, num_classes)
    return made


def create(target: str, opts: ModelOptions) -> TorchClassifier:
    """Factory for ``ckpt:FILE`` (needs ``arch`` and ``num_classes``)."""
    if opts.weights is not None:
        raise BgbenchError("--weights does not apply to ckpt: models (the checkpoint is the weights)")
    path = existing_file(target, "checkpoint")
    sidecar = read_sidecar(path)
    arch = opts.arch or (sidecar or {}).get("arch")
    n = int(opts.num_classes or (sidecar or {}).get("num_classes") or 0)
    if not arch or not n:
        raise BgbenchError("ckpt: models need --arch NAME (a timm model name) and --num-classes N "
                           "(or a bgbench model.json beside a model.safetensors)", path)
    device = torch.device(opts.device)
    raw, inner, state = _read_weights(path, opts.trust_pickle)
    module = build_architecture(arch, n)
    load_into(module, state, path)
    prep = choose_preprocessing(opts, _native_preprocessing(inner, n, module, sidecar), n)
    info = {"adapter": "ckpt", "weights": str(path), "weights_sha256": sha256_file(path), "arch": arch,
            "epoch": _epoch(raw), "preprocess_mode": opts.preprocess, "input_size": prep.input_size,
            "output_space": output_space(n), "trust_pickle": bool(opts.trust_pickle)}
    if sidecar is not None:
        keys = ("variant", "mode", "seed", "classes", "data_fingerprint")
        info["sidecar"] = {k: sidecar.get(k) for k in keys}
    return TorchClassifier(module=module, spec=f"ckpt:{path}", num_outputs=n, preprocessing=prep,
                           device=device, precision=opts.precision, info=info)


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The bgbench ``model.json`` beside a ``.safetensors`` checkpoint (``<stem>.json``), or None.
    A sidecar that is not a bgbench model record is a BgbenchError naming it."""
    from bgbench.textio import read_json

    side = path.with_suffix(".json")
    if path.suffix != ".safetensors" or not side.is_file():
        return None
    doc = read_json(side, "checkpoint sidecar")
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("bgbench.model/"):
        return None
    for key, kinds in (("arch", (str,)), ("num_classes", (int,)), ("preprocessing", (dict,)),
                       ("class_names", (list,))):
        value = doc.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise BgbenchError(f"{key} should be {kinds[0].__name__}, not {value!r:.40}", side)
    prep = doc.get("preprocessing")
    for key in ("mean", "std") if isinstance(prep, dict) else ():
        value = prep.get(key)
        if not (isinstance(value, list) and len(value) == 3
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise BgbenchError(f"preprocessing.{key} should be 3 numbers, not {value!r:.40}", side)
    if isinstance(doc.get("num_classes"), int) and doc["num_classes"] < 1:
        raise BgbenchError(f"num_classes should be positive, not {doc['num_classes']}", side)
    return doc


def _read_weights(path: Path, trust_pickle: bool) -> tuple[Any, Any, dict[str, torch.Tensor]]:
    """(raw file content, the dict holding the network, the cleaned state dict); safetensors files
    are read with safetensors, torch files with ``weights_only`` unless ``trust_pickle``."""
    if path.suffix == ".safetensors":
        state, _ = load_state_dict_file(path)
        return state, state, state
    raw = torch_load(path, trust_pickle)
    inner = raw
    if isinstance(raw, dict):
        for key in ("model", "state_dict"):
            if isinstance(raw.get(key), dict):
                inner = raw[key]
                break
    return raw, inner, clean_state_dict(extract_state_dict(raw, path))


def _native_preprocessing(inner: Any, n: int, module: torch.nn.Module,
                          sidecar: dict[str, Any] | None) -> Preprocessing:
    """The sidecar's preprocessing, else a stored normalizer, else IN-9 (9 classes), else the arch's."""
    if sidecar is not None and isinstance(sidecar.get("preprocessing"), dict):
        p = sidecar["preprocessing"]
        return Preprocessing(mean=tuple(p["mean"]), std=tuple(p["std"]), input_size=p.get("input_size"),
                             interpolation=p.get("interpolation", "bilinear"), name="checkpoint-sidecar")
    stored = stored_normaliser(inner) if isinstance(inner, dict) else None
    if stored is not None:
        return Preprocessing(mean=stored[0], std=stored[1], input_size=None, name="checkpoint-normalizer")
    if n == 9:
        return Preprocessing(mean=IN9_MEAN, std=IN9_STD, input_size=None, name="in9")
    return _arch_preprocessing(module)


def _arch_preprocessing(module: torch.nn.Module) -> Preprocessing:
    if getattr(module, "pretrained_cfg", None):
        from bgbench.models.timm_adapter import timm_preprocessing

        prep = timm_preprocessing(module)[0]
        return Preprocessing(prep.mean, prep.std, None, prep.interpolation, name="arch-config")
    return Preprocessing(input_size=None, name="imagenet")


def _epoch(raw: Any) -> int | None:
    if isinstance(raw, dict):
        value = raw.get("epoch")
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            return int(value.item())
        if isinstance(value, int):
            return value
    return None

