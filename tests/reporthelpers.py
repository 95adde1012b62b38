"""Helpers for the report tests: pipeline results on a tiny synth build, hand-made saliency/probe
documents of the documented schemas, and an HTML checker (images, links, scripts)."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np

from bgbench.config import CacheChoice
from bgbench.eval import EvalConfig

CNN = "python:bgbench.smallcnn:small_cnn"


def pipeline_results(data: Path, base: Path) -> dict[str, Path]:
    """What the pipeline makes on ``data`` (a built tree with train and val splits): a small CNN trained
    for 2 epochs (train.json), its eval with 2 donor draws and its challenge, a second model's eval,
    and a sweep table over both (with published top-1 values) under ``base``. Returns the folders."""
    import bgbench
    from bgbench.sweeps import collect, sweep_models
    from bgbench.training import EvalPlan, Recipe
    from tests_helpers_api import tiny_classifier

    sweep_dir = base / "sweep"
    plan = EvalPlan(
        "val",
        draws=2,
        challenge=True,
        results_dir=sweep_dir / "cnn",
        challenge_dir=base / "challenge" / "cnn",
    )
    recipe = Recipe(epochs=2, input_size=32, batch_size=32, warmup_epochs=0.5)
    bgbench.train(data, bgbench.ModelOptions(CNN, device="cpu"),
                  bgbench.TrainConfig(recipe=recipe, evaluation=plan, cache=bgbench.CacheChoice(False)),
                  out=base / "train" / "cnn", quiet=True)
    bgbench.evaluate(data, tiny_classifier(), EvalConfig(cache=CacheChoice(cache=False)),
                     out=sweep_dir / "tiny", quiet=True)
    models = sweep_models(
        [
            {"name": "cnn", "spec": CNN, "imagenet_top1": 55.0},
            {"name": "tiny", "spec": "tiny:test", "imagenet_top1": 40.0},
        ]
    )
    collect(models, sweep_dir, n_boot=200).write(sweep_dir)
    return {"train": base / "train" / "cnn", "sweep": sweep_dir, "challenge": base / "challenge" / "cnn"}


def _png(path: Path, seed: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)


def schema_documents(base: Path) -> dict[str, Path]:
    """FIXTURES of the documented saliency/probe schemas (bgbench.saliency/1, bgbench.probe/1), hand-made
    for the report's sections: not outputs of any pipeline. Each lists one PNG figure beside it."""
    saliency = base / "saliency"
    saliency.mkdir(parents=True, exist_ok=True)
    _png(saliency / "overlay.png", 1)
    (saliency / "saliency.json").write_text(
        json.dumps(
            {
                "schema": "bgbench.saliency/1",
                "method": "integrated_gradients",
                "models": [
                    {
                        "model": "cnn",
                        "foreground_share": 0.41,
                        "mask_area": 0.22,
                        "foreground_focus": 1.86,
                        "focus_ci": [1.5, 2.2],
                        "n": 27,
                        "images": [],
                    },
                    {
                        "model": "tiny",
                        "foreground_share": 0.25,
                        "mask_area": 0.22,
                        "foreground_focus": 1.14,
                        "focus_ci": [0.9, 1.4],
                        "n": 27,
                        "images": [],
                    },
                ],
                "figures": ["overlay.png"],
            }
        )
    )
    probes = {}
    for kind, cells in (
        (
            "position",
            [
                {"setting": f"r{r}c{c}", "accuracy": 0.1 * (r + c + 1), "ci": [0.0, 0.5]}
                for r in range(3)
                for c in range(3)
            ],
        ),
        (
            "scale",
            [
                {"setting": f"scale={s}", "accuracy": s / 2, "ci": [s / 2 - 0.1, s / 2 + 0.1]}
                for s in (0.5, 0.75, 1.0)
            ],
        ),
    ):
        folder = base / f"probe-{kind}"
        folder.mkdir(parents=True, exist_ok=True)
        _png(folder / f"{kind}.png", 2)
        (folder / "probe.json").write_text(
            json.dumps(
                {
                    "schema": "bgbench.probe/1",
                    "kind": kind,
                    "model": "cnn",
                    "n": 27,
                    "cells": cells,
                    "center_bias": 0.12 if kind == "position" else None,
                    "rfs": None,
                    "figures": [f"{kind}.png"],
                }
            )
        )
        probes[kind] = folder
    return {"saliency": saliency, **probes}


class PageParser(HTMLParser):
    """Collects every src/href and the script tags of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Any]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "section" and values.get("id"):
            self.ids.append(values["id"])
        for key in ("src", "href"):
            if values.get(key) is not None:
                (self.sources if key == "src" else self.links).append(values[key])


def decode_data_uri(uri: str) -> Any:
    """The PIL image a ``data:image/...;base64,`` URI holds (fully decoded)."""
    from PIL import Image

    head, _, payload = uri.partition(",")
    assert head.startswith("data:image/") and head.endswith(";base64"), head[:40]
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return image
