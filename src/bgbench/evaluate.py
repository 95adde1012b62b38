"""Evaluate a classifier on every variant of an IN-9 style tree: accuracy, BG-Gap, per-class.

Flow per variant: :func:`bgbench.dataset.load_variant` gives the decoded uint8 images (cached
memmap); batches go to the device as uint8, become float [0, 1] there, and the
:class:`~bgbench.models.base.Classifier` applies its own preprocessing under inference mode;
the label map turns logits into class predictions (-1 = a class outside the dataset's classes,
always wrong). Metrics come from :mod:`bgbench.metrics`.

``evaluate(...)`` returns an :class:`EvalResult`; ``result.to_json()`` is what ``results.json``
holds, ``result.write(out)`` writes ``results.json`` and ``results.csv`` atomically.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
import types
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from bgbench import __version__
from bgbench.classes import IN9_FOLDERS, NUM_IMAGENET_CLASSES
from bgbench.errors import BgbenchError
from bgbench.layout import IMAGE_VARIANTS, MASK_VARIANT, class_folders, folder_index, variant_dir
from bgbench.metrics import Gap, Proportion, accuracy, bg_gap, confusion_matrix, per_class_accuracy
from bgbench.progress import progress

DEFAULT_MODEL = "efficientnet_lite0"
RESULTS_SCHEMA = "bgbench.eval/1"
GAP_VARIANTS = ("mixed_same", "mixed_rand")

__all__ = ["DEFAULT_MODEL", "EvalResult", "VariantResult", "evaluate", "find_variants", "select_label_map",
           "target_classes"]


@dataclass
class VariantResult:
    """Outcome on one variant. Arrays are aligned with ``paths`` (relative to the data root):
    ``labels`` int64 (N,), ``preds`` int64 (N,) mapped predictions in [-1, num_classes),
    ``top1`` int64 (N,) raw argmax over the model's outputs."""

    variant: str
    paths: list[str]
    labels: np.ndarray
    preds: np.ndarray
    top1: np.ndarray
    accuracy: Proportion
    per_class: list[Proportion]
    confusion: np.ndarray
    skipped: list[tuple[str, str]]
    fingerprint: str
    load_s: float
    infer_s: float
    cached: bool
    resumed: bool = False

    @property
    def correct(self) -> np.ndarray:
        return self.preds == self.labels

    @property
    def images_per_s(self) -> float:
        return len(self.paths) / self.infer_s if self.infer_s > 0 else float("nan")


@dataclass
class EvalResult:
    """Everything one evaluation produced; :meth:`to_json` is the ``results.json`` document."""

    model: str
    model_info: dict[str, Any]
    data_root: str
    split: str
    class_names: list[str]
    label_map: dict[str, Any]
    map_rule: str
    variants: dict[str, VariantResult]
    bg_gap: Gap | None
    device: str
    precision: str
    batch_size: int
    total_s: float
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def data_fingerprint(self) -> str:
        """SHA-256 over the evaluated variants' content fingerprints (see :mod:`bgbench.dataset`)."""
        digest = hashlib.sha256(f"bgbench-data\0{self.split}\n".encode())
        for name in sorted(self.variants):
            digest.update(f"{name}\0{self.variants[name].fingerprint}\n".encode())
        return digest.hexdigest()

    def to_json(self, predictions: bool = True) -> dict[str, Any]:
        v = self.variants
        doc: dict[str, Any] = {
            "schema": RESULTS_SCHEMA,
            "model": self.model,
            "accuracy": {name: r.accuracy.value for name, r in v.items()},
            "accuracy_ci95": {name: [r.accuracy.low, r.accuracy.high] for name, r in v.items()},
            "bg_gap": None if self.bg_gap is None else self.bg_gap.value,
            "bg_gap_ci95": None if self.bg_gap is None else [self.bg_gap.low, self.bg_gap.high],
            "bg_gap_method": None if self.bg_gap is None else self.bg_gap.method,
            "n": {name: len(r.paths) for name, r in v.items()},
            "correct": {name: r.accuracy.k for name, r in v.items()},
            "skipped": {name: [list(s) for s in r.skipped] for name, r in v.items()},
            "map_rule": self.map_rule,
            "label_map": self.label_map,
            "class_names": self.class_names,
            "per_class": {name: dict(zip(self.class_names, (p.to_json() for p in r.per_class), strict=True))
                          for name, r in v.items()},
            "confusion": {name: r.confusion.tolist() for name, r in v.items()},
            "model_info": _jsonable(self.model_info),
            "data": {"root": self.data_root, "split": self.split, "fingerprint": self.data_fingerprint,
                     "variants": {name: r.fingerprint for name, r in v.items()}},
            "versions": _versions(),
            "device": self.device,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "timing": {"total_s": self.total_s,
                       "variants": {name: {"load_s": r.load_s, "infer_s": r.infer_s,
                                           "images_per_s": r.images_per_s, "cache_hit": r.cached,
                                           "resumed": r.resumed}
                                    for name, r in v.items()}},
            "created": self.created,
        }
        if predictions:
            doc["predictions"] = {name: {"path": r.paths, "label": r.labels.tolist(),
                                         "pred": r.preds.tolist(), "top1": r.top1.tolist()}
                                  for name, r in v.items()}
        return doc

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per variant (see :func:`bgbench.report_table.eval_csv_rows`)."""
        from bgbench.report_table import eval_csv_rows

        return eval_csv_rows(self.to_json(predictions=False))

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write ``out/results.json`` and ``out/results.csv`` atomically; returns their paths."""
        from bgbench.atomic import atomic_write_json
        from bgbench.report_table import write_eval_csv

        out = Path(out)
        doc = self.to_json()
        paths = {"json": out / "results.json", "csv": out / "results.csv"}
        atomic_write_json(paths["json"], doc)
        write_eval_csv(paths["csv"], doc)
        return paths


def _versions() -> dict[str, str]:
    import torch

    return {"bgbench": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": sys.version.split()[0], "platform": platform.platform()}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(val) for k, val in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def find_variants(root: str | Path, split: str = "val", variants: list[str] | str | None = None) -> list[str]:
    """Image variants to evaluate: those named (comma list or list; each must exist under ``root``),
    else every known image variant present, in table order. Raises ``BgbenchError`` otherwise."""
    root = Path(root)
    if not root.is_dir():
        raise BgbenchError("data folder not found", root)
    present = [name for name in IMAGE_VARIANTS if variant_dir(root, name, split).is_dir()]
    if variants is None:
        if not present:
            others = sorted({p.name for name in IMAGE_VARIANTS if (root / name).is_dir()
                             for p in (root / name).iterdir() if p.is_dir()} - {split})
            hint = f"; found split(s) {', '.join(others)} (pick one with --split)" if others else ""
            raise BgbenchError(f"no variant folders found for split {split!r} (expected e.g. "
                               f"original/{split}/<class>/...; known variants: {', '.join(IMAGE_VARIANTS)})"
                               f"{hint}", root)
        return present
    names = [v.strip() for v in variants.split(",")] if isinstance(variants, str) else list(variants)
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        raise BgbenchError("--variants names no variant")
    for name in names:
        if name == MASK_VARIANT:
            raise BgbenchError("fg_mask holds masks, not images; it cannot be evaluated as a variant")
        if not variant_dir(root, name, split).is_dir():
            found = ", ".join(present) or "none"
            raise BgbenchError(f"variant {name!r} not found (no {name}/{split}/ folder; present: {found})",
                               root)
    return names


def folder_indices(folders: list[str]) -> list[int] | None:
    """Each folder's class index from its ``NN_`` prefix (:func:`bgbench.layout.folder_index`; every
    folder ``bgbench build`` writes has one, so a class that lost every image keeps its index by its
    absence), or None when some folder has no such prefix or two folders share an index (then
    folders are numbered in sorted order instead)."""
    indices = [folder_index(name) for name in folders]
    if not folders or None in indices:
        return None
    return indices if len(set(indices)) == len(indices) else None  # type: ignore[return-value]


def _mapping_file_size(class_map: str | Path) -> int:
    """1 + the largest target index a mapping file names (0 when unreadable: the label map reports it)."""
    from bgbench.labelmap import read_mapping_file

    try:
        return max((target + 1 for target in read_mapping_file(class_map).values()), default=0)
    except BgbenchError:
        return 0


def target_classes(num_outputs: int, folders: list[str], class_map: str | Path | None = None) -> list[str]:
    """The label space predictions are scored in, as class names (list index = class index).

    - A tree holding only some of IN-9's nine folders (e.g. a small build where every image of a
      class was dropped) is scored in the full IN-9 space when the model has 1000 or 9 outputs and
      no mapping file is given, so labels keep their IN-9 meaning.
    - Folders named ``NN_name`` (the released layout) keep their index ``NN`` even when a class
      folder is missing: the space is max index + 1, or the mapping file's size (1 + its largest
      target) when larger; a missing class gets its IN-9 folder name when every present folder is an
      IN-9 folder, else ``NN_absent``. Exception: without a mapping file, a model with exactly one
      output per present folder is read in folder order, as before.
    - Otherwise the data's class folders in sorted order.
    """
    subset = set(folders) < set(IN9_FOLDERS)
    if class_map is None and subset and num_outputs in (NUM_IMAGENET_CLASSES, len(IN9_FOLDERS)):
        return list(IN9_FOLDERS)
    indices = folder_indices(folders)
    if indices is None:
        return list(folders)
    size = max(indices) + 1
    if class_map is not None:
        size = max(size, _mapping_file_size(class_map))
    elif num_outputs == len(folders) != size:
        return list(folders)
    in9 = set(folders) <= set(IN9_FOLDERS)
    names = [IN9_FOLDERS[i] if in9 and i < len(IN9_FOLDERS) else f"{i:02d}_absent" for i in range(size)]
    for index, name in zip(indices, folders, strict=True):
        names[index] = name
    return names


def select_label_map(num_outputs: int, class_names: list[str], rule: str = "released",
                     class_map: str | Path | None = None):
    """The :class:`~bgbench.labelmap.LabelMap` from a model's outputs to the dataset's classes.

    A mapping file (``class_map``) maps outputs to the dataset's N class folders; without one, a
    1000-class ImageNet model needs IN-9's nine folders (``00_dog`` ... ``08_fish``), and a model
    with one output per class folder is read directly. Anything else raises ``BgbenchError``.
    """
    from bgbench.labelmap import LabelMap, create_label_map

    n_classes = len(class_names)
    if class_map is not None:
        return create_label_map(num_outputs, rule, mapping_file=class_map, num_targets=n_classes)
    if num_outputs == NUM_IMAGENET_CLASSES and tuple(class_names) == IN9_FOLDERS:
        return create_label_map(num_outputs, rule)
    if num_outputs == n_classes:
        return LabelMap(rule="direct", num_outputs=num_outputs, num_targets=n_classes)
    if num_outputs == NUM_IMAGENET_CLASSES:
        shown = ", ".join(class_names[:4]) + (", ..." if n_classes > 4 else "")
        raise BgbenchError(
            f"a 1000-class ImageNet model needs IN-9's class folders ({', '.join(IN9_FOLDERS)}), but "
            f"the data has {n_classes} classes ({shown}); pass a mapping file with --class-map")
    raise BgbenchError(
        f"model has {num_outputs} outputs, which fits no label map for the data's {n_classes} classes: "
        f"expected {NUM_IMAGENET_CLASSES} (ImageNet-1k, with IN-9 folders) or {n_classes}, "
        "or pass --class-map FILE")


def make_classifier(model: Any, **options: Any):
    """A Classifier from a spec string (via create_classifier) or a ready Classifier (kept as is)."""
    from bgbench.models.base import Classifier

    if isinstance(model, Classifier):
        return model
    if not isinstance(model, str):
        raise BgbenchError(f"model must be a spec string or a Classifier, got {type(model).__name__}")
    from bgbench.models import create_classifier

    return create_classifier(model, **options)


def _run_variant(clf, label_map, images: np.ndarray, batch_size: int, desc: str,
                 quiet: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Mapped predictions and raw top-1 (int64 (N,)) for uint8 images (N, H, W, 3); seconds taken."""
    import torch

    n = images.shape[0]
    device = clf.device
    pin = device.type == "cuda"
    staging = torch.empty((min(batch_size, n), *images.shape[1:]), dtype=torch.uint8, pin_memory=pin)
    staging_np = staging.numpy()
    preds = np.empty(n, dtype=np.int64)
    top1 = np.empty(n, dtype=np.int64)
    bar = progress(total=n, desc=desc, unit="img", quiet=quiet)
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            for lo in range(0, n, batch_size):
                hi = min(n, lo + batch_size)
                staging_np[: hi - lo] = images[lo:hi]
                x = staging[: hi - lo].to(device, non_blocking=pin)
                x01 = x.permute(0, 3, 1, 2).float().div_(255.0)
                logits = clf(x01)
                if logits.ndim != 2 or logits.shape[0] != hi - lo:
                    raise BgbenchError(f"model returned shape {tuple(logits.shape)} for a batch of {hi - lo} "
                                       f"images, expected ({hi - lo}, {label_map.num_outputs})")
                top1[lo:hi] = logits.argmax(dim=1).cpu().numpy()
                preds[lo:hi] = label_map.predict(logits).cpu().numpy()
                bar.update(hi - lo)
    finally:
        bar.close()
    return preds, top1, time.perf_counter() - start


def evaluate(data: str | Path, model: Any = DEFAULT_MODEL, *, variants: list[str] | str | None = None,
             split: str = "val", map_rule: str = "released", class_map: str | Path | None = None,
             batch_size: int = 64, device: str = "auto", precision: str = "fp32", preprocess: str = "native",
             weights: str | Path | None = None, arch: str | None = None, num_classes: int | None = None,
             trust_pickle: bool = False, out: str | Path | None = None, cache: bool = True,
             cache_dir: str | Path | None = None, resume: bool = True, int8: str = "reference",
             quiet: bool = False) -> EvalResult:
    """Evaluate ``model`` (a spec string for :func:`bgbench.models.create_classifier`, or a
    :class:`~bgbench.models.base.Classifier`) on the variants of ``data`` (see module docstring).

    ``map_rule``: ``released`` (top-1 over all outputs, then the class table; default),
    ``restricted`` (top-1 over outputs that map to a class) or ``sum`` (softmax mass per class).
    ``class_map``: JSON mapping file {"output index": class index} for custom class sets.
    ``device``, ``precision``, ``preprocess``, ``weights``, ``arch``, ``num_classes``, ``trust_pickle``
    and ``int8`` go to the model adapter when ``model`` is a spec (a ready Classifier keeps its own).
    ``out``: when given, ``results.json`` and ``results.csv`` are written there, and each variant's
    predictions are saved in ``out/partial/<variant>.json`` as soon as it is done; with ``resume``
    a rerun into the same ``out`` reuses them when the model (weights sha256, preprocessing,
    precision), label map, data fingerprint, split, batch size and device are all unchanged.
    Models whose ``describe()`` has no ``weights_sha256`` are always run afresh.
    Raises ``BgbenchError`` for bad input before any model work where possible.
    """
    from bgbench.dataset import load_variant

    if batch_size < 1:
        raise BgbenchError(f"batch size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    root = Path(data)
    names = find_variants(root, split, variants)
    class_names = class_folders(variant_dir(root, names[0], split))
    for name in names[1:]:
        other = class_folders(variant_dir(root, name, split))
        if other != class_names:
            raise BgbenchError(f"class folders of {name}/{split} differ from those of {names[0]}/{split}",
                               root)
    clf = make_classifier(model, device=device, precision=precision, weights=weights, arch=arch,
                          num_classes=num_classes, trust_pickle=trust_pickle, preprocess=preprocess,
                          int8=int8)
    folders = class_names
    class_names = target_classes(int(clf.num_outputs), folders, class_map)
    relabel = np.array([class_names.index(f) for f in folders], dtype=np.int64)
    label_map = select_label_map(int(clf.num_outputs), class_names, map_rule, class_map)
    model_info = clf.describe()
    results: dict[str, VariantResult] = {}
    for name in names:
        t0 = time.perf_counter()
        vdata = load_variant(root, name, split, cache=cache, cache_dir=cache_dir, quiet=quiet)
        load_s = time.perf_counter() - t0
        key = (_resume_key(model_info, label_map.describe(), vdata.fingerprint, split, batch_size, clf)
               if resume and out is not None else None)
        reused = _load_partial(out, name, key, vdata.paths) if key is not None else None
        if reused is not None:
            preds, top1, infer_s = reused
        else:
            preds, top1, infer_s = _run_variant(clf, label_map, vdata.images, batch_size, f"eval {name}",
                                                quiet)
            if key is not None and out is not None:
                _save_partial(out, name, key, vdata.paths, preds, top1, infer_s)
        k = len(class_names)
        labels = relabel[vdata.labels]
        results[name] = VariantResult(
            variant=name, paths=vdata.paths, labels=labels, preds=preds, top1=top1,
            accuracy=accuracy(labels, preds), per_class=per_class_accuracy(labels, preds, k),
            confusion=confusion_matrix(labels, preds, k), skipped=list(vdata.skipped),
            fingerprint=vdata.fingerprint, load_s=load_s, infer_s=infer_s, cached=vdata.cached,
            resumed=reused is not None)
    gap = None
    if all(v in results for v in GAP_VARIANTS):
        same, rand = results["mixed_same"], results["mixed_rand"]
        gap = bg_gap([_key(p) for p in same.paths], same.correct, [_key(p) for p in rand.paths], rand.correct)
    model_name = model if isinstance(model, str) else str(getattr(clf, "spec", type(clf).__name__))
    result = EvalResult(
        model=model_name, model_info=model_info, data_root=str(root.resolve()), split=split,
        class_names=class_names, label_map=label_map.describe(), map_rule=label_map.rule, variants=results,
        bg_gap=gap, device=str(clf.device), precision=str(getattr(clf, "precision", precision)),
        batch_size=batch_size, total_s=time.perf_counter() - started)
    if out is not None:
        result.write(out)
    return result


PARTIAL_DIR = "partial"


def _resume_key(model_info: dict[str, Any], label_map: dict[str, Any], fingerprint: str, split: str,
                batch_size: int, clf: Any) -> str | None:
    """Key of one variant's predictions, or None when the model cannot be identified by its weights'
    hash (then nothing is reused: two random-weight models would describe themselves alike)."""
    if not model_info.get("weights_sha256"):
        return None
    blob = json.dumps({"model": _jsonable(model_info), "label_map": label_map, "data": fingerprint,
                       "split": split, "batch_size": batch_size, "device": str(clf.device)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _load_partial(out: str | Path | None, variant: str, key: str,
                  paths: list[str]) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Predictions a previous, interrupted run with the same key saved in ``out/partial/``."""
    if out is None:
        return None
    path = Path(out) / PARTIAL_DIR / f"{variant}.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if saved.get("key") != key or saved.get("paths") != paths:
        return None
    return (np.asarray(saved["pred"], dtype=np.int64), np.asarray(saved["top1"], dtype=np.int64),
            float(saved["infer_s"]))


def _save_partial(out: str | Path, variant: str, key: str, paths: list[str], preds: np.ndarray,
                  top1: np.ndarray, infer_s: float) -> None:
    from bgbench.atomic import atomic_write_json

    atomic_write_json(Path(out) / PARTIAL_DIR / f"{variant}.json",
                      {"key": key, "paths": paths, "pred": preds.tolist(), "top1": top1.tolist(),
                       "infer_s": infer_s}, indent=None)


def _key(path: str) -> str:
    """Foreground key of an image path ``<variant>/<split>/<class>/<file>``: ``<class>/<stem>``."""
    parts = Path(path).parts
    return f"{parts[-2]}/{Path(parts[-1]).stem}"


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BgbenchError(f"cannot read results ({exc.__class__.__name__})", path) from exc


class _CallableModule(types.ModuleType):
    """``bgbench.evaluate`` names both this module and its main function: importing the submodule
    rebinds the package attribute to the module, so the module forwards calls to :func:`evaluate`
    and ``from bgbench import evaluate; evaluate(data, model)`` works in every import order."""

    def __call__(self, *args: Any, **kwargs: Any) -> EvalResult:
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
