"""Base for classifiers that run outside torch (onnxruntime, LiteRT) on numpy arrays.

Images arrive as torch float (N,3,H,W) in [0,1] on ``device``; they are resized and normalised in
torch (:func:`bgbench.models.common.normalise`), handed to the runtime as float32 NCHW or NHWC numpy
arrays in chunks of the graph's batch size, and the outputs come back as float32 torch logits
(N, num_outputs) on ``device``. Graphs that end in a softmax return probabilities; those are turned
into log-probabilities (same argmax, and ``softmax`` of them gives the probabilities back), and a
1001-class "background first" output drops column 0 so that ImageNet-1k's order remains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import Classifier, Preprocessing
from bgbench.models.common import existing_file, normalise, reject, weights_info
from bgbench.options import ModelOptions

PROBABILITY_FLOOR = 1e-7


def file_model_options(opts: ModelOptions, prefix: str, target: str, what: str
                       ) -> tuple[Path, dict[str, Any]]:
    """Options of a model that is one runtime file (``onnx:``, ``tflite:``): it takes no weights,
    arch, num_classes or pretrained, and runs at the precision stored in it (fp32 only).

    Returns (the file's path, the start of ``describe()``'s info: adapter, weights + sha256,
    precision, preprocess mode).
    """
    reject(opts, f"{prefix}:", "weights", "arch", "num_classes", "pretrained")
    if opts.precision != "fp32":
        raise BgbenchError(f"--precision {opts.precision} does not apply to {prefix}: models "
                           "(they run at the precision stored in the file)")
    path = existing_file(target, what)
    info = {"adapter": prefix, **weights_info(path), "precision": "fp32", "preprocess_mode": opts.preprocess}
    return path, info


class ExternalClassifier(Classifier):
    """A runtime-backed classifier; subclasses implement :meth:`run_chunk`."""

    layout: str = "NCHW"  # what the runtime wants: NCHW or NHWC
    batch: int | None = None  # the graph's fixed batch size, None when dynamic
    drop_background: bool = False
    outputs_are_probabilities: bool = False

    def __init__(self, spec: str, preprocessing: Preprocessing, device: torch.device,
                 info: dict[str, Any]) -> None:
        self.spec = spec
        self.preprocessing = preprocessing
        self.device = device
        self.info = dict(info)
        self.num_outputs = 0

    def run_chunk(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Run the graph on a float32 array in ``self.layout`` of at most ``self.batch`` images."""
        raise NotImplementedError

    def raw_outputs(self, x01: torch.Tensor) -> np.ndarray:
        """Float32 (N, C_graph) outputs of the graph (before background dropping / log)."""
        x = normalise(x01, self.preprocessing)
        if self.layout == "NHWC":
            x = x.permute(0, 2, 3, 1)
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        n = array.shape[0]
        step = self.batch or max(n, 1)
        outs = []
        for start in range(0, n, step):
            chunk = array[start:start + step]
            real = chunk.shape[0]
            if self.batch is not None and real < self.batch:  # pad the last chunk of a fixed-batch graph
                pad = np.repeat(chunk[-1:], self.batch - real, axis=0)
                chunk = np.concatenate([chunk, pad], axis=0)
            out = np.asarray(self.run_chunk(chunk), dtype=np.float32)
            outs.append(out.reshape(out.shape[0], -1)[:real])
        if not outs:
            return np.zeros((0, self.num_outputs + int(self.drop_background)), dtype=np.float32)
        return np.concatenate(outs, axis=0)

    def __call__(self, x01: torch.Tensor) -> torch.Tensor:
        out = torch.from_numpy(self.raw_outputs(x01))
        if self.drop_background:
            out = out[:, 1:]
        if self.outputs_are_probabilities:
            out = out.clamp_min(PROBABILITY_FLOOR).log()
        return out.to(self.device)

    def finish_setup(self, num_graph_outputs: int, probabilities: bool | None = None) -> None:
        """Decide background dropping and probability outputs.

        ``probabilities`` is the runtime's own knowledge (e.g. a uint8 output quantized with scale 1/256,
        which is what TFLite's softmax produces); when None, one mid-grey probe image decides: outputs
        that are all >= 0 and sum to 1 are probabilities.
        """
        self.drop_background = num_graph_outputs == 1001
        self.num_outputs = num_graph_outputs - int(self.drop_background)
        if probabilities is None:
            size = self.preprocessing.input_size or 224
            probe = self.raw_outputs(torch.full((1, 3, size, size), 0.5, device=self.device))
            probabilities = bool((probe >= 0).all() and np.allclose(probe.sum(axis=1), 1.0, atol=1e-3))
        self.outputs_are_probabilities = probabilities
        self.info["outputs"] = ("log of the graph's softmax probabilities" if probabilities
                                else "graph logits")
        self.info["background_class_dropped"] = self.drop_background
        self.info["num_graph_outputs"] = num_graph_outputs
