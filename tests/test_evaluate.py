"""Evaluation end to end: predictions against a plain independent loop, the 1000 -> 9 label-map
rules, result files, and bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bgbench.classes import IN9_FOLDERS, imagenet_to_in9_array
from bgbench.config import CacheChoice
from bgbench.errors import BgbenchError
from bgbench.eval import EvalConfig, evaluate
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.options import ModelOptions
from bgbench.predict import ReadyModel
from test_dataset import write_tree

#: evaluate without writing decoded-image cache files
NO_CACHE = EvalConfig(cache=CacheChoice(cache=False))


def small_timm_classifier(num_classes: int = 9, seed: int = 0) -> TorchClassifier:
    """A tiny timm ResNet with random weights; the head is scaled so predictions vary by image."""
    import timm

    torch.manual_seed(seed)
    module = timm.create_model("test_resnet", num_classes=num_classes, pretrained=False)
    with torch.no_grad():
        module.get_classifier().weight.mul_(200.0)
    return TorchClassifier(module=module, spec="timm:test_resnet", num_outputs=num_classes,
                           preprocessing=Preprocessing(name="imagenet"), device=torch.device("cpu"))


def reference_predictions(module: torch.nn.Module, folder: Path) -> tuple[list[int], list[int], list[str]]:
    """Independent computation: sorted ImageFolder walk, PIL, ToTensor, Normalize, one image at a time."""
    from torchvision import transforms

    to_input = transforms.Compose([transforms.ToTensor(),
                                   transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    preds, labels, names = [], [], []
    module.eval()
    for label, cls in enumerate(sorted(p.name for p in folder.iterdir() if p.is_dir())):
        for path in sorted((folder / cls).iterdir()):
            x = to_input(Image.open(path).convert("RGB")).unsqueeze(0)
            with torch.no_grad():
                preds.append(int(module(x).argmax(dim=1)))
            labels.append(label)
            names.append(path.name)
    return preds, labels, names


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("in9") / "data", per_class=2, size=40, seed=3)


def test_predictions_match_independent_plain_loop(tree, tmp_path):
    clf = small_timm_classifier()
    result = evaluate(tree, clf, EvalConfig(batch_size=5, cache=CacheChoice(cache_dir=tmp_path / "cache")),
                      out=tmp_path / "out")
    assert list(result.variants) == ["original", "mixed_same", "mixed_rand"]
    for name, vres in result.variants.items():
        preds, labels, names = reference_predictions(clf.module, tree / name / "val")
        assert vres.preds.tolist() == preds, name
        assert vres.top1.tolist() == preds  # 9 outputs are read directly
        assert vres.labels.tolist() == labels and [Path(p).name for p in vres.paths] == names
        assert vres.accuracy.k == sum(p == y for p, y in zip(preds, labels, strict=True))
    assert len(set(result.variants["original"].preds.tolist())) > 1, "degenerate model: all one class"
    same, rand = result.variants["mixed_same"].accuracy, result.variants["mixed_rand"].accuracy
    assert result.bg_gap is not None and result.bg_gap.value == pytest.approx(same.value - rand.value)
    assert result.bg_gap.method == "newcombe-paired"
    assert result.bg_gap.low <= result.bg_gap.value <= result.bg_gap.high

    doc = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert doc["model"] == "timm:test_resnet" and doc["map_rule"] == "direct"
    assert doc["n"] == {"original": 18, "mixed_same": 18, "mixed_rand": 18}
    assert doc["accuracy"]["original"] == result.variants["original"].accuracy.value
    assert doc["bg_gap"] == pytest.approx(same.value - rand.value)
    assert doc["predictions"]["mixed_rand"]["pred"] == result.variants["mixed_rand"].preds.tolist()
    assert len(doc["data"]["fingerprint"]) == 64 and set(doc["data"]["variants"]) == set(doc["n"])
    assert doc["versions"]["torch"] == torch.__version__ and doc["device"] == "cpu"
    assert doc["model_info"]["preprocessing"]["mean"] == [0.485, 0.456, 0.406]
    per_class = doc["per_class"]["original"]["00_dog"]
    assert per_class["n"] == 2 and per_class["correct"] == sum(
        p == 0 for p in result.variants["original"].preds[:2].tolist())
    with open(tmp_path / "out" / "eval.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["variant"] for r in rows] == ["original", "mixed_same", "mixed_rand"]
    assert float(rows[0]["accuracy"]) == pytest.approx(doc["accuracy"]["original"])

    cache = CacheChoice(cache_dir=tmp_path / "cache")
    again = evaluate(tree, clf, EvalConfig(variants="mixed_rand", batch_size=64, cache=cache))
    assert again.variants["mixed_rand"].cached
    assert again.variants["mixed_rand"].preds.tolist() == result.variants["mixed_rand"].preds.tolist()
    assert again.bg_gap is None


class CodedLogits(torch.nn.Module):
    """Reads a code from each image's red channel (value / 255) and returns preset logits for it."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("table", table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = (x[:, 0].mean(dim=(1, 2)) * 255).round().long()
        return self.table[code]


def write_coded_tree(root: Path, codes: dict[str, list[int]]) -> Path:
    """IN-9 layout of flat PNG images whose red value is the code; ``codes`` maps class folder -> codes."""
    for folder in IN9_FOLDERS:
        (root / "original" / "val" / folder).mkdir(parents=True, exist_ok=True)
        for i, code in enumerate(codes.get(folder, [])):
            arr = np.zeros((16, 16, 3), np.uint8)
            arr[:, :, 0] = code
            Image.fromarray(arr).save(root / "original" / "val" / folder / f"img_{i}.png")
    return root


def test_imagenet_1000_to_in9_rules(tmp_path):
    in9 = imagenet_to_in9_array()
    dog, bird, vehicle, fish = (int(np.flatnonzero(in9 == c)[0]) for c in (0, 1, 2, 8))
    vehicles = np.flatnonzero(in9 == 2)[:3].tolist()
    outside = int(np.flatnonzero(in9 == -1)[0])
    table = torch.full((256, 1000), -20.0)   # every other class: negligible softmax mass
    table[10, dog] = 9.0                       # a dog, predicted as a dog class
    table[20, outside] = 5.0                   # a bird: top-1 outside the nine, runner-up a bird class
    table[20, bird] = 4.0
    table[30, dog] = 5.0                       # a vehicle: top-1 a dog class, but three vehicle classes
    table[30, vehicles] = 4.5                  # together hold more softmax mass
    table[40, fish] = 9.0                      # a fish, predicted as a fish class
    codes = {f: [0] for f in IN9_FOLDERS}     # every class needs an image: code 0 -> outside the nine
    codes.update({"00_dog": [10], "01_bird": [20], "02_vehicle": [30], "08_fish": [40]})
    table[0, outside] = 9.0
    root = write_coded_tree(tmp_path / "coded", codes)
    clf = TorchClassifier(module=CodedLogits(table), spec="coded", num_outputs=1000,
                          preprocessing=Preprocessing(mean=(0, 0, 0), std=(1, 1, 1), name="identity"))
    expected_correct = {"released": 2, "restricted": 3, "sum": 4}
    for rule, k in expected_correct.items():
        result = evaluate(root, ReadyModel(clf, map_rule=rule), NO_CACHE)
        vres = result.variants["original"]
        assert result.map_rule == rule and result.label_map["source"] == "imagenet_to_in9"
        assert vres.accuracy.k == k and vres.accuracy.n == 9, rule
        by_class = dict(zip([Path(p).parent.name for p in vres.paths], vres.top1.tolist(), strict=True))
        assert (by_class["01_bird"], by_class["02_vehicle"], by_class["08_fish"]) == (outside, dog, fish)
    released = evaluate(root, clf, NO_CACHE).variants["original"]
    pred = dict(zip([Path(p).parent.name for p in released.paths], released.preds.tolist(), strict=True))
    assert pred["01_bird"] == -1 and pred["02_vehicle"] == 0 and pred["03_reptile"] == -1


def coded_tree(root, codes: dict[str, list[int]]):
    """``original/val/<folder>/<i>.png``: 8x8 images whose red channel is the code (read by CodedLogits)."""
    for folder, values in codes.items():
        (root / "original" / "val" / folder).mkdir(parents=True)
        for i, code in enumerate(values):
            arr = np.zeros((8, 8, 3), np.uint8)
            arr[:, :, 0] = code
            Image.fromarray(arr).save(root / "original" / "val" / folder / f"{i}.png")
    return root


def five_output_model(table: torch.Tensor, mapping: Path) -> tuple[TorchClassifier, Path]:
    """A 5-output CodedLogits model and a mapping file: outputs 0, 4 -> class 0; 1 -> 1; 2 -> 2; 3 -> none."""
    mapping.write_text(json.dumps({"0": 0, "1": 1, "2": 2, "3": -1, "4": 0}))
    clf = TorchClassifier(module=CodedLogits(table), spec="five", num_outputs=5,
                          preprocessing=Preprocessing(mean=(0, 0, 0), std=(1, 1, 1)))
    return clf, mapping


def test_custom_class_set_with_mapping_file(tmp_path):
    root = coded_tree(tmp_path / "custom", {"apple": [1, 2], "boat": [3], "cat": [4]})
    table = torch.zeros(256, 5)
    table[1, 0] = 1.0   # apple -> output 0 -> apple
    table[2, 4] = 1.0   # apple -> output 4 -> apple
    table[3, 3] = 1.0   # boat -> output 3 -> none (-1)
    table[4, 2] = 1.0   # cat -> output 2 -> cat
    clf, mapping = five_output_model(table, tmp_path / "map.json")
    result = evaluate(root, ReadyModel(clf, class_map=mapping), NO_CACHE)
    vres = result.variants["original"]
    assert vres.preds.tolist() == [0, 0, -1, 2] and vres.accuracy.k == 3
    assert result.class_names == ["apple", "boat", "cat"] and result.label_map["source"] == str(mapping)
    with pytest.raises(BgbenchError, match="5 outputs, which fits no label map for the data's 3 classes"):
        evaluate(root, clf, NO_CACHE)


def test_custom_tree_missing_a_middle_class_keeps_folder_indices(tmp_path):
    """A build where class 01_boat lost every image writes no folder for it: ``00_apple`` and
    ``02_cat`` keep indices 0 and 2 (their ``NN_`` prefixes), so a mapping file written for the full
    three-class set applies, and a model with one output per class is read directly."""
    from bgbench.predict import target_classes

    root = coded_tree(tmp_path / "custom", {"00_apple": [1, 2], "02_cat": [4, 5]})
    table = torch.zeros(256, 5)
    table[1, 0] = 1.0   # apple -> output 0 -> apple (0): right
    table[2, 1] = 1.0   # apple -> output 1 -> boat (1): wrong
    table[4, 2] = 1.0   # cat -> output 2 -> cat (2): right
    table[5, 3] = 1.0   # cat -> output 3 -> none (-1): wrong
    clf, mapping = five_output_model(table, tmp_path / "map.json")
    result = evaluate(root, ReadyModel(clf, class_map=mapping), NO_CACHE)
    vres = result.variants["original"]
    assert result.class_names == ["00_apple", "01_absent", "02_cat"]
    assert vres.labels.tolist() == [0, 0, 2, 2] and vres.preds.tolist() == [0, 1, 2, -1]
    assert vres.accuracy.k == 2 and vres.accuracy.n == 4
    assert [p.n for p in vres.per_class] == [2, 0, 2]
    assert result.label_map["num_targets"] == 3
    # a mapping file naming more classes than the folders show widens the space to its size
    wide = tmp_path / "wide.json"
    wide.write_text(json.dumps({"0": 0, "1": 1, "2": 2, "3": 4}))
    assert evaluate(root, ReadyModel(clf, class_map=wide), NO_CACHE).class_names == \
        ["00_apple", "01_absent", "02_cat", "03_absent", "04_absent"]
    # one output per class (three) is read directly, in the full space
    three = TorchClassifier(module=CodedLogits(table[:, :3].contiguous()), spec="three", num_outputs=3,
                            preprocessing=Preprocessing(mean=(0, 0, 0), std=(1, 1, 1)))
    direct = evaluate(root, three, NO_CACHE)
    assert direct.map_rule == "direct" and direct.variants["original"].preds.tolist() == [0, 1, 2, 0]
    # the label-space rule itself
    assert target_classes(5, ["00_dog", "02_vehicle"], class_map=mapping) == \
        ["00_dog", "01_bird", "02_vehicle"]
    assert target_classes(2, ["00_apple", "02_cat"]) == ["00_apple", "02_cat"]  # one output per folder
    assert target_classes(3, ["apple", "cat"]) == ["apple", "cat"]  # no prefixes: sorted folders


def test_bad_input_errors(tree, tmp_path):
    clf = small_timm_classifier()
    with pytest.raises(BgbenchError, match="variant 'only_fg' not found .*present: original, mixed_same"):
        evaluate(tree, clf, EvalConfig(variants="original,only_fg", cache=CacheChoice(cache=False)))
    with pytest.raises(BgbenchError, match="fg_mask holds masks"):
        evaluate(tree, clf, EvalConfig(variants="fg_mask", cache=CacheChoice(cache=False)))
    with pytest.raises(BgbenchError, match="data folder not found"):
        evaluate(tmp_path / "nowhere", clf)
    with pytest.raises(BgbenchError, match="no variant folders found"):
        evaluate(tmp_path, clf)
    with pytest.raises(BgbenchError, match=r"split 'train' .*found split\(s\) val \(pick one with --split\)"):
        evaluate(tree, clf, EvalConfig(split="train"))
    seven = small_timm_classifier(num_classes=7)
    with pytest.raises(BgbenchError, match="7 outputs, which fits no label map"):
        evaluate(tree, seven, NO_CACHE, out=tmp_path / "never")
    assert not (tmp_path / "never").exists()
    imagenet = small_timm_classifier(num_classes=1000)
    renamed = write_tree(tmp_path / "renamed", variants=("original",), per_class=1,
                         classes=[f"class{i}" for i in range(9)])
    with pytest.raises(BgbenchError, match="1000-class ImageNet model needs IN-9's class folders"):
        evaluate(renamed, imagenet, NO_CACHE)
    empty = write_tree(tmp_path / "empty", variants=("original",), per_class=1)
    for path in (empty / "original/val/07_primate").iterdir():
        path.unlink()
    with pytest.raises(BgbenchError, match="07_primate: class folder holds no image files"):
        evaluate(empty, clf, NO_CACHE)


def test_unreadable_image_is_skipped_and_table_right_for_the_rest(tree, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tree, data)
    bad = data / "original/val/06_instrument/06_instrument_001.JPEG"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    clf = small_timm_classifier()
    result = evaluate(data, clf,
                      EvalConfig(variants=["original"], cache=CacheChoice(cache_dir=tmp_path / "cache")),
                      out=tmp_path / "out")
    vres = result.variants["original"]
    assert vres.skipped == [("original/val/06_instrument/06_instrument_001.JPEG", vres.skipped[0][1])]
    assert vres.accuracy.n == 17
    clean = evaluate(tree, clf,
                     EvalConfig(variants=["original"], cache=CacheChoice(cache=False))).variants["original"]
    keep = [i for i, p in enumerate(clean.paths) if not p.endswith("06_instrument_001.JPEG")]
    assert vres.preds.tolist() == clean.preds[keep].tolist()
    assert vres.accuracy.k == int((clean.preds[keep] == clean.labels[keep]).sum())
    assert vres.per_class[6].n == 1
    doc = json.loads((tmp_path / "out/eval.json").read_text())
    assert doc["skipped"]["original"][0][0] == "original/val/06_instrument/06_instrument_001.JPEG"
    assert doc["n"]["original"] == 17


def test_cli_eval_default_builtin_model_writes_results(tree, tmp_path, capsys):
    from bgbench.cli import main

    out = tmp_path / "out"
    rc = main(["eval", str(tree), "--variants", "original,mixed_rand", "--out", str(out), "--cache-dir",
               str(tmp_path / "cache"), "--device", "cpu", "--json", "-q"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    doc = json.loads((out / "eval.json").read_text())
    assert printed["accuracy"] == doc["accuracy"] and list(doc["n"]) == ["original", "mixed_rand"]
    assert doc["model"] == "efficientnet_lite0" and doc["map_rule"] == "released"
    assert len(doc["model_info"]["weights_sha256"]) == 64
    assert all(-1 <= p < 9 for p in doc["predictions"]["original"]["pred"])
    assert all(0 <= t < 1000 for t in doc["predictions"]["original"]["top1"])
    assert (out / "eval.csv").read_text().startswith("variant,n,correct,accuracy,ci95_low,ci95_high")
    rc = main(["eval", str(tree), "--variants", "only_bg_t", "--out", str(tmp_path / "bad"), "-q"])
    assert rc == 2 and "error: " in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_public_api_evaluate_is_a_plain_function_with_its_signature(tree, tmp_path):
    import inspect

    import bgbench
    import bgbench.eval  # the package is bgbench.eval; bgbench.evaluate is only the function

    assert inspect.isfunction(bgbench.evaluate) and bgbench.EvalConfig is EvalConfig
    params = inspect.signature(bgbench.evaluate).parameters
    assert list(params) == ["data", "model", "config", "out", "quiet"]
    assert [p.name for p in params.values() if p.kind is p.KEYWORD_ONLY] == ["out", "quiet"]
    result = bgbench.evaluate(tree, small_timm_classifier(),
                              EvalConfig(variants="original", cache=CacheChoice(cache=False)))
    assert result.variants["original"].accuracy.n == 18


@pytest.mark.realdata
@pytest.mark.slow
def test_real_photos_builtin_model_far_above_chance(realdata_built, tmp_path):
    """Variants built from real ImageNet photos, real pretrained efficientnet_lite0.

    Measured on all 178 photos the full build keeps (2026-11, grabcut): original 98.9%, only_bg_t
    16.9%, mixed_same 85.4%, mixed_rand 77.0%, BG-Gap 8.4% (2.7 to 14.3). Here a quick box-segmented
    build of 5 photos per class (the ``realdata_built`` session fixture); chance is 1/9 = 11%.
    """
    result = evaluate(realdata_built, ModelOptions.of("efficientnet_lite0", device="cpu"),
                      EvalConfig(variants="original,mixed_same,mixed_rand",
                                 cache=CacheChoice(cache_dir=tmp_path / "cache")), quiet=True)
    original = result.variants["original"].accuracy
    assert original.n >= 15
    assert original.value >= 0.75 and original.low > 3 / 9, original
    assert result.bg_gap is not None and result.bg_gap.method == "newcombe-paired"
    assert result.model_info["weights_sha256"] and result.map_rule == "released"


# one model per adapter kind: TFLite (uint8, 192 px), ONNX (int8 QDQ), the built-in (timm, real weights)
REAL_ADAPTERS = ["tflite:models/tflite/mobilenet_v1_0.75_192_quant.tflite",
                 "onnx:models/onnx/shufflenet-v2-12-qdq.onnx",
                 "efficientnet_lite0"]


@pytest.mark.realdata
@pytest.mark.slow
def test_real_photos_every_adapter_kind_far_above_chance(realdata, realdata_built, tmp_path):
    """Original accuracy under the released map (top-1 over all 1000 outputs, then ImageNet -> IN-9)
    on the variants built from the real photos, for one TFLite, one ONNX and the built-in model: the
    Wilson interval's low end must be above 1/3 (chance is 1/9). Only "far above chance" is
    asserted, not figures: how quantized graphs are executed may change the last few predictions."""
    figures = []
    for spec in REAL_ADAPTERS:
        kind, sep, rel = spec.partition(":")
        resolved = f"{kind}:{realdata / rel}" if sep else spec
        result = evaluate(realdata_built, ModelOptions.of(resolved, device="cpu", map_rule="released"),
                          EvalConfig(variants="original", cache=CacheChoice(cache_dir=tmp_path / "cache")),
                          quiet=True)
        acc = result.variants["original"].accuracy
        figures.append(f"{spec.rsplit('/', 1)[-1]}: original {acc.value:.1%} ({acc.k}/{acc.n}, "
                       f"95% CI {acc.low:.1%}-{acc.high:.1%})")
        assert result.map_rule == "released" and result.label_map["source"] == "imagenet_to_in9"
        assert acc.n >= 15
        assert acc.low > 1 / 3, figures[-1]
    print("\n" + "\n".join(figures))


@pytest.mark.slow
def test_synth_built_tree_matches_independent_loop(synth_built, tmp_path):
    """The variants ``bgbench build`` wrote (224 px), against the plain per-image loop."""
    clf = small_timm_classifier(seed=1)
    result = evaluate(synth_built, clf, EvalConfig(variants="original,mixed_same,mixed_rand", batch_size=16,
                                                   cache=CacheChoice(cache_dir=tmp_path / "cache")))
    for name, vres in result.variants.items():
        preds, labels, names = reference_predictions(clf.module, synth_built / name / "val")
        assert vres.preds.tolist() == preds and vres.labels.tolist() == labels, name
        assert [Path(p).name for p in vres.paths] == names
        assert vres.accuracy.k == sum(p == y for p, y in zip(preds, labels, strict=True))
    assert result.bg_gap is not None and result.bg_gap.method == "newcombe-paired"
    assert result.bg_gap.n_pairs == result.variants["mixed_same"].accuracy.n


def test_rerun_into_same_out_reuses_finished_variants(tree, tmp_path):
    out = tmp_path / "out"
    first = small_timm_classifier(seed=0)
    first.info["weights_sha256"] = "a" * 64
    done = evaluate(tree, first, EvalConfig(cache=CacheChoice(cache_dir=tmp_path / "cache")), out=out)
    assert sorted(p.name for p in (out / "partial").iterdir()) == ["mixed_rand.json", "mixed_same.json",
                                                                   "original.json"]
    (out / "partial" / "mixed_rand.json").unlink()  # as if interrupted during mixed_rand
    (out / "eval.json").unlink()
    # same identity (weights hash) but different weights: reused variants keep the first predictions,
    # which proves they were not recomputed
    impostor = small_timm_classifier(seed=5)
    impostor.info["weights_sha256"] = "a" * 64
    again = evaluate(tree, impostor, EvalConfig(cache=CacheChoice(cache_dir=tmp_path / "cache")), out=out)
    assert again.variants["original"].resumed and again.variants["mixed_same"].resumed
    assert not again.variants["mixed_rand"].resumed
    assert again.variants["original"].preds.tolist() == done.variants["original"].preds.tolist()
    reference, _, _ = reference_predictions(impostor.module, tree / "mixed_rand" / "val")
    assert again.variants["mixed_rand"].preds.tolist() == reference
    assert json.loads((out / "eval.json").read_text())["timing"]["variants"]["original"]["resumed"]
    other = small_timm_classifier(seed=5)
    other.info["weights_sha256"] = "b" * 64
    fresh = evaluate(tree, other, EvalConfig(cache=CacheChoice(cache_dir=tmp_path / "cache")), out=out)
    assert not any(v.resumed for v in fresh.variants.values())
    unhashed = evaluate(tree, small_timm_classifier(seed=5),
                        EvalConfig(cache=CacheChoice(cache_dir=tmp_path / "cache")), out=out)
    assert not any(v.resumed for v in unhashed.variants.values())


def test_tree_with_some_in9_classes_is_scored_in_the_in9_space(tmp_path):
    in9 = imagenet_to_in9_array()
    table = torch.full((256, 1000), -20.0)
    table[10, int(np.flatnonzero(in9 == 0)[0])] = 9.0   # dog image -> a dog class
    table[30, int(np.flatnonzero(in9 == 8)[0])] = 9.0   # vehicle image -> a fish class (wrong)
    table[50, int(np.flatnonzero(in9 == 7)[0])] = 9.0   # primate image -> a primate class
    root = write_coded_tree(tmp_path / "partial", {"00_dog": [10], "02_vehicle": [30], "07_primate": [50]})
    for folder in IN9_FOLDERS:
        if folder not in ("00_dog", "02_vehicle", "07_primate"):
            (root / "original" / "val" / folder).rmdir()  # classes with no kept image: no folder
    clf = TorchClassifier(module=CodedLogits(table), spec="coded", num_outputs=1000,
                          preprocessing=Preprocessing(mean=(0, 0, 0), std=(1, 1, 1)))
    result = evaluate(root, clf, NO_CACHE)
    vres = result.variants["original"]
    assert result.class_names == list(IN9_FOLDERS)
    assert vres.labels.tolist() == [0, 2, 7] and vres.preds.tolist() == [0, 8, 7]
    assert vres.accuracy.k == 2 and [p.n for p in vres.per_class] == [1, 0, 1, 0, 0, 0, 0, 1, 0]


def test_eval_config_normalises_variants_and_refuses_bad_settings_in_one_line():
    assert EvalConfig(variants=" original, mixed_rand,,original").variants == ("original", "mixed_rand")
    assert EvalConfig(variants=["mixed_rand", "original"]) == EvalConfig(variants="mixed_rand,original")
    assert EvalConfig().variants is None and EvalConfig().group_min == 10
    doc = EvalConfig(variants="original", draws=2, cache=CacheChoice(cache_dir=Path("/c"))).to_json()
    assert doc["variants"] == ["original"] and doc["draws"] == 2 and doc["cache"]["cache_dir"] == "/c"
    json.dumps(doc)
    bad = {"EvalConfig.batch_size must be a whole number of at least 1, got 0": {"batch_size": 0},
           "EvalConfig.draws must be a whole number of at least 1": {"draws": 0},
           "EvalConfig.group_min must be a whole number of at least 1, got 0": {"group_min": 0},
           "EvalConfig.draw_seed must be a whole number, got 0.5": {"draw_seed": 0.5},
           "--variants names no variant": {"variants": " , "},
           "variants must be a comma list or a list of names": {"variants": 3},
           "split must be a folder name": {"split": ""},
           "cache must be a CacheChoice": {"cache": False}}
    for message, fields in bad.items():
        with pytest.raises(BgbenchError, match=message) as info:
            EvalConfig(**fields)
        assert "\n" not in str(info.value)
    with pytest.raises(BgbenchError, match="config must be an EvalConfig, got dict"):
        evaluate(Path("."), small_timm_classifier(), {"batch_size": 1})


def test_eval_writes_eval_json_and_an_earlier_results_json_is_a_rename_error(tree, tmp_path):
    """eval writes eval.json and eval.csv (no results.json); a document is read by its schema whatever
    its name, and a folder holding only an earlier bgbench's results.json is refused in one line by
    every reader that searches a folder (load_results, the report, the sweep's table); another tool's
    results.json is no bgbench result."""
    import bgbench
    from bgbench.reporting.collect import gather
    from bgbench.sweeps import collect

    out = tmp_path / "sweep" / "m"
    result = evaluate(tree, small_timm_classifier(), EvalConfig(variants="original", cache=NO_CACHE.cache),
                      out=out)
    assert sorted(p.name for p in out.iterdir()) == ["eval.csv", "eval.json"]
    (out / "eval.json").rename(out / "results.json")
    loaded = bgbench.load_results(out / "results.json")  # by its schema
    assert loaded.kind == "eval" and loaded.accuracy == result.accuracy
    message = "results.json is an earlier bgbench's eval output; rename it to eval.json"
    for read in (bgbench.load_results, lambda p: gather([p]), lambda p: gather([p.parent]),
                 lambda p: collect([{"name": "m", "spec": "timm:test_resnet"}], p.parent)):
        with pytest.raises(BgbenchError, match=message) as info:
            read(out)
        assert str(info.value) == f"{out / 'results.json'}: {message}"
    (out / "eval.json").write_text((out / "results.json").read_text())
    assert bgbench.load_results(out).source_path == out / "eval.json"  # both: today's name is read
    foreign = tmp_path / "other"
    foreign.mkdir()
    (foreign / "results.json").write_text('{"loss": 0.1}')
    with pytest.raises(BgbenchError, match="no bgbench result in this folder"):
        bgbench.load_results(foreign)
