"""``tflite:FILE``: TensorFlow Lite classifiers run by the LiteRT interpreter (``ai-edge-litert``) on the CPU.

- Input: NHWC, float32 or uint8/int8. Quantized inputs are the normalised float images quantized
  with the input tensor's own scale and zero point; quantized outputs are dequantized.
- Native preprocessing (MANIFEST of the real models): resize to the graph's input size (128, 160,
  192, 224, ...) bilinear, mean = std = 0.5 (images scaled to [-1, 1]).
- 1001-class outputs ("background" first) drop column 0: num_outputs is 1000 in ImageNet-1k order.
  A softmax output (uint8 scale 1/256, or float probabilities) is returned as log-probabilities.
- Batching: the input is resized to the batch when the graph allows it; otherwise images run one by
  one. When the default delegate (XNNPACK) fails, the interpreter is rebuilt with
  ``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import Preprocessing
from bgbench.models.common import (
    INCEPTION_MEAN,
    INCEPTION_STD,
    choose_preprocessing,
    first_line,
    output_space,
)
from bgbench.models.external import ExternalClassifier, file_model_options
from bgbench.options import ModelOptions

SOFTMAX_SCALE = 1.0 / 256.0
DEFAULT_BATCH = 32


def quantize(x: np.ndarray, dtype: Any, scale: float, zero: int) -> np.ndarray:
    """Float array -> the graph's input dtype: float32 unchanged; uint8/int8 (any integer type)
    ``clip(round(x / scale + zero))`` to the type's range (round half to even, as TFLite's
    reference quantizer on the host). Raises ValueError for an integer input without a scale."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return x.astype(dtype, copy=False)
    if not scale:
        raise ValueError(f"quantized input ({dtype.name}) without a scale")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def dequantize(y: np.ndarray, scale: float, zero: int) -> np.ndarray:
    """Graph output -> float32: floats as they are, integers ``(y - zero) * scale`` (scale 0 = 1)."""
    if y.dtype.kind == "f":
        return y.astype(np.float32)
    return ((y.astype(np.float32) - zero) * (scale or 1.0)).astype(np.float32)


def _threads() -> int:
    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1))


class TFLiteClassifier(ExternalClassifier):
    """A LiteRT interpreter wrapped in the Classifier contract."""

    layout = "NHWC"

    def __init__(self, path: Path, spec: str, device: torch.device, preprocess: Any,
                 info: dict[str, Any]) -> None:
        self.path = path
        self.resolver = "default"
        self._interpreter, self._input, self._output = self._open(default_delegates=True)
        try:
            self._check_runs()
        except (RuntimeError, ValueError):
            self._interpreter, self._input, self._output = self._open(default_delegates=False)
            self.resolver = "BUILTIN_WITHOUT_DEFAULT_DELEGATES"
            self._check_runs()
        shape = [int(v) for v in self._input["shape"]]
        if len(shape) != 4 or shape[3] != 3:
            raise BgbenchError(f"expected an NHWC image input with 3 channels, found shape {shape}", path)
        self.height, self.width = shape[1], shape[2]
        if self.height != self.width:
            raise BgbenchError(f"non-square input {self.height}x{self.width} is not supported", path)
        size = self.height
        native = Preprocessing(mean=INCEPTION_MEAN, std=INCEPTION_STD, input_size=size,
                               interpolation="bilinear", name="tflite-inception")
        out_shape = [int(v) for v in self._output["shape"]]
        graph_outputs = int(np.prod(out_shape[1:]))
        prep = choose_preprocessing(preprocess, native, graph_outputs - int(graph_outputs == 1001), size)
        if prep.input_size is None:
            prep.input_size = size
        super().__init__(spec, prep, device, info)
        self._batch_ok = self._try_batch(DEFAULT_BATCH)
        out_q = self._output["quantization"]
        quantized_softmax = (self._output["dtype"] in (np.uint8, np.int8)
                             and abs(out_q[0] - SOFTMAX_SCALE) < 1e-9 and out_q[1] in (0, -128))
        self.finish_setup(graph_outputs, probabilities=True if quantized_softmax else None)
        in_q = self._input["quantization"]
        self.info.update({
            "input_dtype": np.dtype(self._input["dtype"]).name,
            "input_quantization": {"scale": float(in_q[0]), "zero_point": int(in_q[1])},
            "output_dtype": np.dtype(self._output["dtype"]).name,
            "op_resolver": self.resolver,
            "batched": self._batch_ok,
            "input_size": prep.input_size,
            "output_space": output_space(self.num_outputs),
        })

    def _open(self, default_delegates: bool):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        kwargs: dict[str, Any] = {"model_path": str(self.path), "num_threads": _threads()}
        if not default_delegates:
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            interpreter = Interpreter(**kwargs)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BgbenchError(f"not a TensorFlow Lite model LiteRT can load ({first_line(exc, 160)})",
                               self.path) from exc
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        if len(inputs) != 1 or not outputs:
            raise BgbenchError(f"expected one image input, found {len(inputs)} inputs", self.path)
        return interpreter, inputs[0], outputs[0]

    def _check_runs(self) -> None:
        shape = [int(v) for v in self._input["shape"]]
        self._interpreter.set_tensor(self._input["index"], np.zeros(shape, dtype=self._input["dtype"]))
        self._interpreter.invoke()

    def _resize(self, n: int) -> None:
        shape = [int(v) for v in self._input["shape"]]
        self._interpreter.resize_tensor_input(self._input["index"], [n, *shape[1:]], strict=False)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._current = n

    def _try_batch(self, n: int) -> bool:
        """Whether the graph runs on a batch of ``n`` (then batches follow the caller's); else batch 1."""
        self._current = int(self._input["shape"][0])
        try:
            self._resize(n)
            probe = np.zeros([int(v) for v in self._input["shape"]], dtype=self._input["dtype"])
            self._interpreter.set_tensor(self._input["index"], probe)
            self._interpreter.invoke()
            if self._interpreter.get_tensor(self._output["index"]).shape[0] != n:
                raise ValueError("output batch does not follow the input batch")
        except (RuntimeError, ValueError):
            self._resize(1)
            self.batch = 1
            return False
        self.batch = None
        return True

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        scale, zero = self._input["quantization"]
        try:
            return quantize(x, self._input["dtype"], scale, zero)
        except ValueError as exc:
            raise BgbenchError(str(exc), self.path) from None

    def _dequantize(self, y: np.ndarray) -> np.ndarray:
        scale, zero = self._output["quantization"]
        return dequantize(y, scale, zero)

    def run_chunk(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] != self._current:
            self._resize(x.shape[0])
        self._interpreter.set_tensor(self._input["index"], self._quantize(x))
        self._interpreter.invoke()
        return self._dequantize(self._interpreter.get_tensor(self._output["index"]).copy())


def cuda_usable() -> bool:
    """False: LiteRT runs on the CPU only, so ``device="auto"`` means the CPU (read by
    :func:`bgbench.models.concrete_device`)."""
    return False


def create(target: str, opts: ModelOptions) -> TFLiteClassifier:
    """Factory for ``tflite:FILE``."""
    path, info = file_model_options(opts, "tflite", target, "TFLite model")
    if torch.device(opts.device).type != "cpu":
        raise BgbenchError("tflite: models run on the CPU only (use --device cpu or auto)")
    return TFLiteClassifier(path, f"tflite:{target}", torch.device("cpu"), opts, info)
