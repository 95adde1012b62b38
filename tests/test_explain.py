"""Explain: Captum attribution measured against models whose evidence is known by construction,
probe composites that keep every foreground pixel, RFS, errors, results and the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import bgbench
from bgbench.classes import IN9_FOLDERS
from bgbench.composite import composite
from bgbench.config import CacheChoice, ImageSubset
from bgbench.errors import BgbenchError
from bgbench.explain import ProbeConfig, SaliencyConfig, probes
from bgbench.explain.attribution import (
    attribute,
    class_scores,
    masks_to_model_grid,
    to_model_grid,
)
from bgbench.explain.scores import (
    foreground_focus,
    foreground_share,
    mask_area,
    relative_foreground_sensitivity,
)
from bgbench.models.base import Preprocessing, TorchClassifier
from bgbench.options import ModelOptions
from bgbench.predict import predictor_for

SIZE = 32
NO_CACHE = CacheChoice(cache=False)
TOP, BOTTOM, LEFT, RIGHT = 6, 22, 8, 28  # the only pixels the model reads


class RegionLinear(torch.nn.Module):
    """Logits linear in the pixels of one rectangle: ``logit_k = sum(W_k * conv(x * region))`` with an
    identity 1x1 convolution (so Grad-CAM has a layer) and positive weights ``W`` (9, 3, S, S) that
    are zero outside the rectangle and grow from left to right."""

    def __init__(self) -> None:
        super().__init__()
        region = torch.zeros(1, 1, SIZE, SIZE)
        region[..., TOP:BOTTOM, LEFT:RIGHT] = 1.0
        self.register_buffer("region", region)
        self.conv = torch.nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        weights = torch.rand(9, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)) + 0.1
        weights = weights * torch.linspace(0.2, 2.0, SIZE)  # heavier to the right: halves differ
        self.register_buffer("weights", weights * region)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nchw,kchw->nk", self.conv(x * self.region), self.weights)


def region_predictor():
    net = RegionLinear()
    prep = Preprocessing(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), input_size=None)
    clf = TorchClassifier(module=net, spec="region:test", num_outputs=9, preprocessing=prep)
    return predictor_for(clf, ModelOptions(spec="region:test"), list(IN9_FOLDERS)), net


def expected_map(method: str, net: RegionLinear, x: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Per-pixel attribution the construction implies (N, S, S)."""
    w = net.weights[target]  # (N, 3, S, S)
    if method in ("saliency", "smoothgrad"):  # the gradient is W wherever x is (noise or not)
        return w.abs().sum(1).numpy()
    if method == "ig":  # a linear model from a black baseline: x * W exactly
        return (x * w).abs().sum(1).numpy()
    alpha = w.mean(dim=(2, 3), keepdim=True)  # Grad-CAM: channel weights = mean gradient of the layer
    return (alpha * x * net.region).sum(1).clamp(min=0).numpy()


@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "ig", "gradcam"])
def test_foreground_share_of_a_model_that_reads_one_rectangle(method):
    predictor, net = region_predictor()
    x = torch.rand(4, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([0, 3, 5, 8])
    config = SaliencyConfig(method=method, samples=4, stdev=0.2, steps=16, batch_size=8)
    maps = attribute(class_scores(predictor), x, target, config)
    assert maps.shape == (4, SIZE, SIZE) and (maps >= 0).all()

    region = np.zeros((4, SIZE, SIZE))
    region[:, TOP:BOTTOM, LEFT:RIGHT] = 1
    np.testing.assert_allclose(foreground_share(maps, region), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        foreground_focus(foreground_share(maps, region), mask_area(region)),
        SIZE * SIZE / ((BOTTOM - TOP) * (RIGHT - LEFT)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(foreground_share(maps, 1 - region), 0.0, atol=1e-6)

    half = np.zeros_like(region)
    half[:, TOP:BOTTOM, LEFT : (LEFT + RIGHT) // 2] = 1  # the left half of the rectangle
    implied = expected_map(method, net, x, target)
    want = (implied * half).sum(axis=(1, 2)) / implied.sum(axis=(1, 2))
    assert not np.allclose(want, 0.5, atol=0.01)  # unequal weights: a real check, not a symmetry
    np.testing.assert_allclose(foreground_share(maps, half), want, rtol=2e-4, atol=1e-6)


def test_class_scores_follow_the_label_rules():
    from bgbench.classes import imagenet_to_in9_array

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 1000))
    prep = Preprocessing(mean=(0.5,) * 3, std=(0.25,) * 3, input_size=None)
    clf = TorchClassifier(module=net, spec="lin:1000", num_outputs=1000, preprocessing=prep)
    x = torch.rand(5, 3, 8, 8)
    logits = clf(x)
    table = torch.as_tensor(imagenet_to_in9_array())
    members = [torch.nonzero(table == k).flatten() for k in range(9)]
    for rule in ("released", "restricted", "sum"):
        predictor = predictor_for(clf, ModelOptions(spec="lin:1000", map_rule=rule), list(IN9_FOLDERS))
        scores = class_scores(predictor)(x).detach()
        lse = torch.stack([torch.logsumexp(logits[:, m], dim=1) for m in members], dim=1)
        if rule == "sum":
            mass = torch.stack([torch.softmax(logits, 1)[:, m].sum(1) for m in members], dim=1)
            torch.testing.assert_close(scores, mass.log(), rtol=1e-4, atol=1e-4)
            assert torch.equal(scores.argmax(1), predictor.label_map.predict(logits))
        else:
            torch.testing.assert_close(scores, lse, rtol=1e-5, atol=1e-4)
            best = torch.stack([logits[:, m].max(1).values for m in members], dim=1)
            assert (scores >= best - 1e-4).all()


def test_masks_go_through_the_model_resize():
    from tests_helpers_api import tiny_classifier

    clf = tiny_classifier()  # input size 64
    masks = np.zeros((2, 128, 128), dtype=np.uint8)
    masks[0, 10:70, 20:100] = 1
    masks[1, 64:, :] = 1
    grid = masks_to_model_grid(clf, masks)
    assert grid.shape == (2, 64, 64) and grid.min() >= 0 and grid.max() <= 1
    np.testing.assert_allclose(grid.mean(axis=(1, 2)), masks.mean(axis=(1, 2)), atol=0.01)
    np.testing.assert_array_equal(grid[1, 33:], 1.0)  # soft only at the resampled edge
    np.testing.assert_array_equal(grid[1, :31], 0.0)
    as_image = torch.as_tensor(masks, dtype=torch.float32)[:, None].repeat(1, 3, 1, 1)
    np.testing.assert_array_equal(grid, to_model_grid(clf, as_image)[:, 1].clamp(0, 1).numpy())


def _scene(seed: int = 0):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    background = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:60, :80]
    mask = (((yy - 22) / 12.0) ** 2 + ((xx - 50) / 17.0) ** 2 <= 1).astype(np.uint8)
    return image, mask, background


def test_position_composites_keep_every_foreground_pixel():
    image, mask, background = _scene()
    names, stack = probes.position_composites(image, mask, background)
    assert names[:9] == [f"r{r}c{c}" for r in range(3) for c in range(3)] and names[9] == "in_place"
    for (name, dy, dx), out in zip(probes.cell_shifts(mask), stack[:9], strict=True):
        ys, xs = np.nonzero(mask)
        assert (ys + dy >= 0).all() and (ys + dy < 60).all() and (xs + dx >= 0).all() and (xs + dx < 80).all()
        np.testing.assert_array_equal(out[ys + dy, xs + dx], image[ys, xs], err_msg=name)
        moved = np.zeros_like(mask)
        moved[ys + dy, xs + dx] = 1
        np.testing.assert_array_equal(out[moved == 0], background[moved == 0], err_msg=name)
    np.testing.assert_array_equal(stack[9], composite(image, background, mask))
    top, bottom, left, right = probes.foreground_box(mask)
    _, dy, dx = probes.cell_shifts(mask)[4]  # centre cell: the box centre on the image centre
    assert abs((top + bottom) / 2 + dy - 30) <= 1 and abs((left + right) / 2 + dx - 40) <= 1


def test_scale_one_is_the_original_composite_and_scaling_keeps_the_centre():
    image, mask, background = _scene(1)
    names, stack = probes.scale_composites(image, mask, background, (0.5, 1.0, 1.5))
    assert names == ["scale=0.5", "scale=1", "scale=1.5"]
    np.testing.assert_array_equal(stack[1], composite(image, background, mask))
    for factor in (0.5, 1.5):
        _, scaled = probes.rescale_foreground(image, mask, factor)
        assert set(np.unique(scaled)) <= {0, 1}
        assert abs(scaled.sum() / mask.sum() - factor**2) < 0.15 * factor**2
        centre = np.argwhere(scaled).mean(axis=0)
        np.testing.assert_allclose(centre, np.argwhere(mask).mean(axis=0), atol=1.5)


def test_noise_composites_touch_only_their_side():
    image, mask, _ = _scene(2)
    names, stack = probes.noise_composites(image, mask, (0.25,), np.random.default_rng(0))
    assert names == ["clean", "fg_noise=0.25", "bg_noise=0.25"]
    fg_noisy, bg_noisy = stack[1], stack[2]
    inside = mask.astype(bool)
    np.testing.assert_array_equal(fg_noisy[~inside], image[~inside])
    np.testing.assert_array_equal(bg_noisy[inside], image[inside])
    assert (fg_noisy[inside] != image[inside]).mean() > 0.9 and (
        bg_noisy[~inside] != image[~inside]
    ).mean() > 0.9


def test_rfs_is_hard_imagenets_formula():
    assert relative_foreground_sensitivity(0.2, 0.8) == pytest.approx(0.6)
    assert relative_foreground_sensitivity(0.8, 0.2) == pytest.approx(-0.6)
    assert relative_foreground_sensitivity(0.0, 1.0) == pytest.approx(1.0)
    assert relative_foreground_sensitivity(0.9, 1.0) == pytest.approx(0.1 / (2 * 0.05))
    assert (
        relative_foreground_sensitivity(1.0, 1.0) == 0.0 and relative_foreground_sensitivity(0.0, 0.0) == 0.0
    )


def _onnx_model(path: Path) -> Path:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(12, 9)
    ).eval()
    torch.onnx.export(
        net,
        (torch.zeros(1, 3, 128, 128),),
        str(path),
        input_names=["input"],
        output_names=["out"],
        dynamic_axes={"input": {0: "n"}, "out": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )
    return path


def test_saliency_refuses_a_model_without_gradients_but_probe_takes_it(synth_built, tmp_path, capsys):
    from bgbench.cli import main

    spec = f"onnx:{_onnx_model(tmp_path / 'tiny.onnx')}"
    out = tmp_path / "sal"
    assert main(["saliency", str(synth_built), "--model", spec, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "need a torch model" in err and "smoothgrad" in err
    assert not out.exists()
    result = bgbench.probe(synth_built, spec, ProbeConfig("position", cache=NO_CACHE), quiet=True)
    assert result.n == 27 and len(result.cells) == 10


def test_data_without_masks_fails_in_one_line_before_any_output(synth_built, tmp_path, capsys):
    from bgbench.cli import main

    data = tmp_path / "nomask"
    shutil.copytree(synth_built / "original", data / "original")
    shutil.copytree(synth_built / "only_bg_t", data / "only_bg_t")
    for argv in (
        ["saliency", str(data), "--out", str(tmp_path / "s")],
        ["probe", str(data), "--kind", "scale", "--out", str(tmp_path / "p")],
    ):
        assert main([*argv, "--model", "python:tests_helpers_api:tiny_classifier", "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "fg_mask" in err and str(data) in err
    assert not (tmp_path / "s").exists() and not (tmp_path / "p").exists()


def test_results_round_trip_through_load_results(synth_built, tmp_path):
    from tests_helpers_api import tiny_classifier

    sal = bgbench.saliency(
        synth_built,
        [tiny_classifier(), "python:tests_helpers_api:tiny_classifier"],
        SaliencyConfig(method="saliency", cache=NO_CACHE, figure_images=3),
        out=tmp_path / "sal",
        quiet=True,
    )
    doc = sal.to_json()
    assert doc["schema"] == "bgbench.saliency/1" and len(doc["models"]) == 2 and doc["data"]["n_images"] == 27
    first = doc["models"][0]
    assert first["n"] == len(first["images"]) == 27 and 0 < first["mask_area"] < 1
    assert first["focus_ci"][0] <= first["foreground_focus"] <= first["focus_ci"][1]
    assert first["model_info"]["preprocessing"]["input_size"] == 64 and first["grid"] == [64, 64]
    assert doc["comparison"][0]["difference"] == pytest.approx(0.0, abs=1e-9)  # the same model twice
    assert {"saliency_grid.png", "saliency_grid.svg", "saliency_focus.png"} <= set(doc["figures"])
    assert all((tmp_path / "sal" / f).is_file() for f in doc["figures"])
    again = bgbench.load_results(tmp_path / "sal")
    assert type(again).__name__ == "SaliencyResult" and again.to_json() == doc and str(again) == str(sal)
    assert (tmp_path / "sal" / "saliency.csv").read_text().count("\n") == 1 + 2 * 27

    pr = bgbench.probe(
        synth_built,
        tiny_classifier(),
        ProbeConfig("noise", sigmas=(0.25, 0.5), subset=ImageSubset(per_class=2), cache=NO_CACHE),
        out=tmp_path / "pr",
        quiet=True,
    )
    again = bgbench.load_results(tmp_path / "pr" / "probe.json")
    assert type(again).__name__ == "ProbeResult" and again.to_json() == pr.to_json()
    assert [c["setting"] for c in again.cells] == [
        "clean",
        "fg_noise=0.25",
        "bg_noise=0.25",
        "fg_noise=0.5",
        "bg_noise=0.5",
    ]
    assert [r["sigma"] for r in again.rfs] == [0.25, 0.5] and -1 <= again.rfs[0]["value"] <= 1
    assert "RFS" in str(again) and "<table>" in again._repr_html_()


def test_cli_smoke(synth_built, tmp_path, capsys):
    from bgbench.cli import main

    spec = "python:tests_helpers_api:tiny_classifier"
    out = tmp_path / "s"
    assert (
        main(
            [
                "saliency",
                str(synth_built),
                "--model",
                spec,
                "--model",
                spec,
                "--method",
                "ig",
                "--steps",
                "4",
                "--per-class",
                "1",
                "--out",
                str(out),
                "-q",
                "--no-cache",
            ]
        )
        == 0
    )
    assert "focus" in capsys.readouterr().out
    doc = bgbench.load_results(out).to_json()
    assert doc["method"] == "ig" and doc["data"]["n_images"] == 9 and len(doc["models"]) == 2
    for kind in ("position", "scale"):
        target = tmp_path / kind
        assert (
            main(
                [
                    "probe",
                    str(synth_built),
                    "--model",
                    spec,
                    "--kind",
                    kind,
                    "--factors",
                    "0.5,1,1.5",
                    "--per-class",
                    "2",
                    "--out",
                    str(target),
                    "-q",
                    "--no-cache",
                ]
            )
            == 0
        )
        result = bgbench.load_results(target)
        assert result.probe_kind == kind and (target / "probe.csv").is_file()
        assert any(f.endswith(".png") for f in result.figures)
    assert bgbench.load_results(tmp_path / "position").center_bias["ci95"][0] is not None
    assert main(["probe", str(synth_built), "--model", spec, "--kind", "size", "-q"]) == 2
    assert "unknown probe kind" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SaliencyConfig(method="lime"), "unknown attribution method 'lime' (expected one of"),
        (lambda: SaliencyConfig(samples=0), "SaliencyConfig.samples"
         " must be a whole number of at least 1, got 0"),
        (lambda: SaliencyConfig(steps=2.5), "SaliencyConfig.steps"
         " must be a whole number of at least 1, got 2.5"),
        (lambda: SaliencyConfig(batch_size=True), "SaliencyConfig.batch_size"
         " must be a whole number of at least 1, got T"),
        (lambda: SaliencyConfig(stdev=-0.1), "SaliencyConfig.stdev must be a number of at least 0, got -0.1"),
        (lambda: SaliencyConfig(figure_images=-1), "SaliencyConfig.figure_images"
         " must be a whole number of at least 0"),
        (lambda: SaliencyConfig(layer=3), "--layer must be a dotted module name, got 3"),
        (lambda: SaliencyConfig(split=""), "--split must be a folder name, got ''"),
        (lambda: SaliencyConfig(subset={"images": 3}), "subset must be a bgbench.ImageSubset, got dict"),
        (lambda: SaliencyConfig(cache=False), "cache must be a bgbench.CacheChoice, got bool"),
        (lambda: SaliencyConfig(subset=ImageSubset(images=0)), "ImageSubset.images"
         " must be a whole number of at least 1 (or None), got 0"),
        (lambda: ProbeConfig("size"), "unknown probe kind 'size' (expected one of position, scale, noise)"),
        (lambda: ProbeConfig("position", grid=1), "ProbeConfig.grid"
         " must be a whole number of at least 2, got 1"),
        (lambda: ProbeConfig("scale", factors=(0.5, 0)), "scale factors must be positive, got [0.5, 0.0]"),
        (lambda: ProbeConfig("scale", factors=()), "scale factors must be positive, got []"),
        (lambda: ProbeConfig("noise", sigmas=(-0.25,)), "noise strengths must be positive, got [-0.25]"),
        (lambda: ProbeConfig("noise", sigmas=("a",)), "--sigmas must be a list of numbers, got ('a',)"),
        (lambda: ProbeConfig("noise", batch_size=0), "ProbeConfig.batch_size"
         " must be a whole number of at least 1"),
        (lambda: ProbeConfig("noise", cache=None), "cache must be a bgbench.CacheChoice, got NoneType"),
    ],
)
def test_configs_refuse_bad_settings_in_one_line(make, message):
    with pytest.raises(BgbenchError) as info:
        make()
    text = str(info.value)
    assert message in text and len(text.splitlines()) == 1


def test_configs_keep_what_the_results_record(synth_built, tmp_path):
    config = ProbeConfig("scale", factors=[1, 2])
    assert config.factors == (1.0, 2.0) and config.settings()["factors"] == [1.0, 2.0]
    assert ProbeConfig("noise", subset=ImageSubset(seed=7)).settings()["seed"] == 7
    smooth = SaliencyConfig(subset=ImageSubset(per_class=2, seed=5))
    assert smooth.seed == 5 and smooth.attribution_json()["seed"] == 5
    assert "seed" not in SaliencyConfig(method="ig", steps=4).attribution_json()
    assert bgbench.SaliencyConfig is SaliencyConfig and bgbench.ProbeConfig is ProbeConfig
    with pytest.raises(BgbenchError, match="^probe needs a ProbeConfig .*got NoneType$"):
        bgbench.probe(synth_built, "python:tests_helpers_api:tiny_classifier", out=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_smoothgrad_is_reproducible_with_a_seed(synth_built):
    def focus(seed):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
                                  torch.nn.Flatten(), torch.nn.Linear(16, 9))  # not linear: noise matters
        prep = Preprocessing(input_size=32)
        clf = TorchClassifier(module=net, spec="relu:test", num_outputs=9, preprocessing=prep)
        config = SaliencyConfig(method="smoothgrad", samples=3, subset=ImageSubset(per_class=1, seed=seed),
                                cache=NO_CACHE)
        return bgbench.saliency(synth_built, clf, config, quiet=True).models[0]["foreground_focus"]

    assert focus(0) == focus(0) != focus(1)


@pytest.mark.realdata
def test_saliency_refuses_a_tflite_model_in_one_line(realdata, synth_built, tmp_path, capsys):
    from bgbench.cli import main

    spec = f"tflite:{realdata / 'models' / 'tflite' / 'mobilenet_v1_0.25_128_quant.tflite'}"
    assert main(["saliency", str(synth_built), "--model", spec, "--out", str(tmp_path / "s"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "need a torch model" in err and "TFLiteClassifier" in err
    assert not (tmp_path / "s").exists()
