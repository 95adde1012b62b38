"""The model registry: list_models / is_model / model_entry, registration beside each factory, the
registry as the source of create_classifier, ``bgbench models`` and the CLI help, and cheap listing
(no torch import)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import bgbench
from bgbench.errors import BgbenchError
from bgbench.models import create_classifier
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.models.registry import (
    data_table,
    is_model,
    list_models,
    model_entries,
    model_entry,
    model_spec_help,
    register_model,
    register_spec_form,
    resolve,
    unregister_model,
)
from bgbench.options import ModelOptions

BUILTINS = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
FORMS = ["timm:NAME", "torchvision:NAME", "hf:REPO_OR_DIR", "onnx:FILE", "tflite:FILE", "torchscript:FILE",
         "ckpt:FILE", "python:MODULE:CALLABLE", "open_clip:ARCH/PRETRAINED", "hf_clip:REPO_OR_DIR"]
SRC = str(Path(bgbench.__file__).resolve().parents[1])


def run_python(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a fresh interpreter with this checkout first on the path (user zoo under
    ``config``); asserts it succeeded."""
    env = {**os.environ, "PYTHONPATH": SRC, "XDG_CONFIG_HOME": str(config)}
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def test_list_models_with_and_without_pattern_and_kind() -> None:
    everything = list_models()
    assert everything == sorted(everything)
    assert set(BUILTINS + FORMS) <= set(everything)
    assert list_models(kind="builtin") == BUILTINS
    assert list_models(kind="spec-form") == sorted(FORMS)
    assert list_models("efficientnet*") == BUILTINS
    assert list_models("*lite1") == ["efficientnet_lite1"]
    assert list_models("t*", kind="spec-form") == ["tflite:FILE", "timm:NAME", "torchscript:FILE",
                                                  "torchvision:NAME"]
    assert list_models("t*", kind="builtin") == []
    assert bgbench.list_models("onnx*") == ["onnx:FILE"]
    with pytest.raises(BgbenchError, match="unknown model kind 'weird'"):
        list_models(kind="weird")


def test_entries_carry_their_metadata() -> None:
    for name, size, top1 in zip(BUILTINS, (224, 240, 260), (75.1, 76.7, 77.6), strict=True):
        entry = model_entry(name)
        assert (entry.kind, entry.input_size, entry.published_top1, entry.output_space) == (
            "builtin", size, top1, "imagenet-1k")
        assert entry.preprocessing == "bicubic, mean = std = 0.5"
        assert entry.factory == "bgbench.models.builtin:create" and entry.prefix is None
        assert not hasattr(entry, "measured_top1_370")  # no local photo set's figures in the registry
    assert [e.name for e in model_entries("spec-form")] == FORMS  # registration order
    for form in FORMS:
        entry = model_entry(form)
        assert entry.kind == "spec-form" and entry.prefix == form.split(":")[0]
        assert entry.input_size and entry.preprocessing and entry.notes
        assert entry.factory.startswith("bgbench.models.") and entry.factory.endswith(":create")
    assert model_entry("timm:resnet50") is model_entry("timm:NAME")
    assert resolve("python:pkg.mod:make") == (model_entry("python:MODULE:CALLABLE"), "pkg.mod:make")
    assert resolve("efficientnet_lite0") == (model_entry("efficientnet_lite0"), "efficientnet_lite0")
    assert is_model("efficientnet_lite2") and is_model("onnx:FILE")
    assert not is_model("timm:resnet50") and not is_model("nosuch")


def test_unknown_spec_is_one_line_listing_the_forms() -> None:
    for bad in ("nosuch:thing", "efficientnet_lite9", "NAME"):
        with pytest.raises(BgbenchError, match="unknown model spec") as err:
            create_classifier(bad)
        assert "\n" not in str(err.value) and "timm:..." in str(err.value)
        assert "efficientnet_lite0" in str(err.value)
    with pytest.raises(BgbenchError, match="unknown model spec 'nosuch:x'"):
        create_classifier(ModelOptions(spec="nosuch:x"))
    with pytest.raises(BgbenchError, match="unknown model spec"):
        model_entry("nosuch")
    with pytest.raises(BgbenchError, match="model must be a spec string or ModelOptions, got int"):
        create_classifier(3)  # type: ignore[arg-type]


def test_model_spec_help_is_one_line_from_the_registry() -> None:
    text = model_spec_help()
    assert "\n" not in text and text.startswith("Model spec:")
    for name in BUILTINS + FORMS:
        assert name in text
    assert text.index("timm:NAME") < text.index("python:MODULE:CALLABLE")


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_is_creatable_when_its_wheel_is_installed(name: str) -> None:
    rec = data_table("builtin_models.json")[name]
    if importlib.util.find_spec(rec["package"]) is None:
        pytest.skip(f"{rec['pip']} is not installed")
    clf = create_classifier(name, device="cpu")
    assert clf.spec == name and clf.num_outputs == 1000
    assert clf.preprocessing.input_size == model_entry(name).input_size
    assert clf.describe()["published_top1"] == model_entry(name).published_top1
    out = clf(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 1000) and torch.isfinite(out).all()


class TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def torchscript_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ts") / "tiny.ts"
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(TinyNet().eval()), path)
    return path


def test_create_classifier_from_model_options(torchscript_file: Path) -> None:
    opts = ModelOptions(spec=f"torchscript:{torchscript_file}", device="cpu", preprocess="in9",
                        map_rule="sum")
    clf = create_classifier(opts)
    assert clf.spec == opts.spec and clf.num_outputs == 5 and clf.preprocessing.name == "in9"
    assert clf.device == torch.device("cpu")
    # keyword options override the ModelOptions' own
    assert create_classifier(opts, preprocess="inception").preprocessing.name == "inception"
    # overrides are ModelOptions fields (ModelOptions.of): the label fields and the spec itself too
    clf = create_classifier(opts.spec, device="cpu", map_rule="sum", class_map=None)
    assert clf.preprocessing.name == "imagenet"
    assert create_classifier("nosuch:x", spec=opts.spec, device="cpu").spec == opts.spec
    with pytest.raises(BgbenchError, match="--weights does not apply to torchscript"):
        create_classifier(opts, weights="w.pth")
    with pytest.raises(TypeError, match="unknown model option.*colour"):
        create_classifier(opts, colour="blue")


def tiny_factory(name: str, options: ModelOptions) -> TorchClassifier:
    """A user model: ``factory(name, options)``; records the options it received."""
    torch.manual_seed(1)
    return TorchClassifier(module=TinyNet(), spec=name, num_outputs=5,
                           preprocessing=Preprocessing(input_size=32, name="tiny"),
                           info={"received": options.to_json()})


def width_factory(target: str, options: ModelOptions) -> TorchClassifier:
    """A user spec form ``testwidth:WIDTH``: WIDTH outputs."""
    module = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                 torch.nn.Linear(3, int(target)))
    return TorchClassifier(module=module, spec=f"testwidth:{target}", num_outputs=int(target))


def registry_bare(name: str, options: ModelOptions) -> TorchClassifier:
    """Registered bare: its name is the function's."""
    raise AssertionError("never created")


TINY_META = {"input_size": 32, "preprocessing": "ImageNet mean/std at 32", "published_top1": 12.5,
             "output_space": "custom", "notes": "a test model"}


@pytest.fixture
def user_models() -> Iterator[None]:
    """Registers the user entries above for one test, then removes them again."""
    register_model("test_registry_tiny", **TINY_META)(tiny_factory)
    register_model(registry_bare)
    register_model(name="registry_named")(registry_bare)
    register_spec_form("testwidth", placeholder="WIDTH", input_size="as given", preprocessing="none",
                       notes="tests")(width_factory)
    yield
    for name in ("test_registry_tiny", "registry_bare", "registry_named", "testwidth:WIDTH"):
        unregister_model(name)


def test_user_registered_model_and_spec_form(user_models: None) -> None:
    from bgbench.models.zoo import load_zoo

    assert list_models("*registry_*") == ["registry_bare", "registry_named", "test_registry_tiny"]
    entry = model_entry("test_registry_tiny")
    assert (entry.kind, entry.input_size, entry.published_top1, entry.output_space) == (
        "user", 32, 12.5, "custom")
    assert entry.factory == f"{__name__}:tiny_factory" and entry.load() is tiny_factory
    clf = create_classifier("test_registry_tiny", device="cpu")
    assert clf.spec == "test_registry_tiny" and clf.info["received"]["device"] == "cpu"
    assert clf(torch.rand(2, 3, 40, 40)).shape == (2, 5)
    assert {"registry_bare", "test_registry_tiny"} <= set(list_models(kind="user"))
    assert create_classifier("testwidth:3")(torch.rand(1, 3, 4, 4)).shape == (1, 3)
    assert model_entry("testwidth:WIDTH").prefix == "testwidth" and "testwidth:WIDTH" in model_spec_help()
    zoo = {e.name: e for e in load_zoo(realdata="/nonexistent")}
    assert zoo["test_registry_tiny"].kind == "user" and zoo["testwidth"].spec == "testwidth:WIDTH"


def test_a_name_is_registered_once(user_models: None) -> None:
    with pytest.raises(BgbenchError, match="test_registry_tiny is already registered by"):
        register_model("test_registry_tiny")(width_factory)
    with pytest.raises(BgbenchError, match="already registered by bgbench.models.timm_adapter:create"):
        register_spec_form("timm", placeholder="OTHER")(width_factory)
    with pytest.raises(BgbenchError, match="hold no ':'"):
        register_model("a:b")(width_factory)
    register_model("test_registry_tiny", **{**TINY_META, "published_top1": 13.0})(tiny_factory)
    assert model_entry("test_registry_tiny").published_top1 == 13.0  # the same factory again: replaced


def test_unregister_model(user_models: None) -> None:
    unregister_model("testwidth:WIDTH")
    with pytest.raises(BgbenchError, match="unknown model spec 'testwidth:3'"):
        create_classifier("testwidth:3")
    with pytest.raises(BgbenchError, match="no registered model 'testwidth:WIDTH'"):
        unregister_model("testwidth:WIDTH")
    register_spec_form("testwidth", placeholder="WIDTH")(width_factory)  # for the fixture's clean-up


HEAVY = ("torch", "timm", "onnxruntime", "torchvision", "transformers", "ai_edge_litert")


def test_listing_imports_no_torch_and_every_shipped_factory_resolves(tmp_path: Path) -> None:
    code = f"""
import json, sys
import bgbench.cli
from bgbench.models.registry import list_models, model_entries, model_spec_help
model_spec_help()
names, listed = list_models(), model_entries()
heavy = [m for m in {HEAVY!r} if m in sys.modules]
shipped = [e for e in listed if e.kind in ("builtin", "spec-form")]
loaded = [e.load() for e in shipped]  # imports each adapter module now
print(json.dumps({{"heavy": heavy, "same": listed == model_entries(), "names": names,
                   "factories": [f"{{f.__module__}}:{{f.__qualname__}}" for f in loaded],
                   "declared": [e.factory for e in shipped]}}))
"""
    found = json.loads(run_python("-c", code, config=tmp_path).stdout)
    assert found["heavy"] == []
    assert found["same"] is True  # importing the adapters registers nothing more
    assert set(BUILTINS + FORMS) <= set(found["names"])
    assert found["factories"] == found["declared"] and all(f.endswith(":create") for f in found["declared"])


def test_models_command_lists_the_registry_without_torch(tmp_path: Path) -> None:
    (tmp_path / "z.toml").write_text('[[model]]\nspec = "timm:resnet18"\n')
    code = f"""
import sys
from bgbench.cli import main
code = main(["models", "--json", "--realdata", {str(tmp_path)!r}, "--zoo", {str(tmp_path / "z.toml")!r}])
print("heavy:", [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)
sys.exit(code)
"""
    done = run_python("-c", code, config=tmp_path)
    assert "heavy: []" in done.stderr
    records = json.loads(done.stdout)
    registered = [(r["name"], r["spec"], r["kind"]) for r in records if r["kind"] in ("builtin", "spec-form")]
    expected = [(e.prefix or e.name, e.name, e.kind) for e in model_entries()
                if e.kind in ("builtin", "spec-form")]
    assert registered == expected
    assert [r["spec"] for r in records if r["kind"] == "user"] == ["timm:resnet18"]
    assert len([r for r in records if r["kind"] == "realdata"]) == 12
    pattern = run_python("-m", "bgbench", "models", "efficientnet*", "--json", config=tmp_path)
    assert [r["name"] for r in json.loads(pattern.stdout)] == BUILTINS


def test_a_factory_receives_the_whole_options_with_a_concrete_device(user_models: None) -> None:
    from bgbench.devices import resolve_device

    asked = ModelOptions(spec="test_registry_tiny", precision="bf16", preprocess="in9", map_rule="sum")
    received = create_classifier(asked).info["received"]
    # the same options, spec and label rule included; only "auto" became this machine's device
    assert received == {**asked.to_json(), "device": str(resolve_device("auto"))}
    assert received["device"] in ("cpu", "cuda")


def test_the_device_is_resolved_once_before_the_factory(user_models: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from bgbench.models import concrete_device
    from bgbench.models.tflite_adapter import create as tflite_create
    from bgbench.models.timm_adapter import create as timm_create

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a CUDA machine, as far as auto knows
    assert concrete_device(timm_create, "auto") == "cuda" and concrete_device(tiny_factory, "auto") == "cuda"
    assert concrete_device(tflite_create, "auto") == "cpu"  # LiteRT: the CPU only (cuda_usable False)
    assert concrete_device(timm_create, " CPU ") == "cpu"
    assert concrete_device(timm_create, "cuda:1") == "cuda:1"
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        from bgbench.models.onnx_adapter import create as onnx_create

        gpu = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        assert concrete_device(onnx_create, "auto") == ("cuda" if gpu else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert concrete_device(timm_create, "auto") == "cpu"
    for device, message in (("cuda", "--device cuda asked for, but torch sees no CUDA device"),
                            ("cuda:0", "--device cuda:0 asked for"), ("tpu", "unknown device 'tpu'")):
        with pytest.raises(BgbenchError, match=message) as err:
            create_classifier("test_registry_tiny", device=device)  # refused before the factory runs
        assert "\n" not in str(err.value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(BgbenchError, match="unknown device 'cuda:x'") as err:
        create_classifier("test_registry_tiny", device="cuda:x")
    assert "\n" not in str(err.value)


def test_no_adapter_resolves_the_device_itself() -> None:
    """create_classifier resolves it once; a factory only reads ``torch.device(options.device)``."""
    modules = {e.factory.partition(":")[0] for e in model_entries() if e.kind != "user"}
    assert "bgbench.models.onnx_adapter" in modules and len(modules) == 11
    for module in sorted(modules):
        source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
        assert "resolve_device" not in source and not re.search(r"device\s*[!=]=\s*.auto", source), module
