"""``onnx:FILE``: ONNX classifiers run with onnxruntime (CPU, or CUDA when its provider is installed).

- Reads the first input's name, shape and layout (NCHW when dim 1 is 3, NHWC when the last dim is
  3). A fixed batch dimension (e.g. batch-1 graphs) is honoured by chunking (the last chunk padded);
  a symbolic one takes the whole batch at once. Float32 and float16 inputs are supported.
- Quantized graphs (QOperator, QDQ) have float inputs and outputs. By default (``int8="reference"``)
  they run in reference arithmetic (:mod:`bgbench.models.onnx_quant`), so their predictions do not
  depend on the CPU's int8 kernels; ``int8="native"`` keeps onnxruntime's kernels.
- Native preprocessing: ImageNet mean/std, bilinear resize to the graph's spatial size when it is
  fixed (no resize when symbolic). A softmax output is returned as log-probabilities; 1001-class
  outputs drop the background column.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bgbench.errors import BgbenchError
from bgbench.models.base import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from bgbench.models.common import choose_preprocessing, first_line, output_space
from bgbench.models.external import ExternalClassifier, file_model_options
from bgbench.models.onnx_quant import (
    UnsupportedQuantizedGraph,
    cpu_int8_features,
    quantization_format,
    session_options,
    to_reference,
)
from bgbench.options import ModelOptions


def _dim(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, np.integer)) and int(value) > 0 else None


class OnnxClassifier(ExternalClassifier):
    """An onnxruntime InferenceSession wrapped in the Classifier contract."""

    def __init__(self, path: Path, spec: str, device: torch.device, opts: Any, info: dict[str, Any]) -> None:
        import onnxruntime as ort

        self.path = path
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda":
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        graph, fmt, arithmetic = self._load_graph(path, opts.int8)
        so = session_options(ort, quantized=fmt != "float", int8=arithmetic)
        so.intra_op_num_threads = max(1, min(torch.get_num_threads(), os.cpu_count() or 1))
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(graph, sess_options=so, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
            raise BgbenchError(f"not an ONNX model onnxruntime can load ({first_line(exc)})", path) from exc
        info.update({"onnxruntime": ort.__version__, "quantization": fmt,
                     "int8_arithmetic": arithmetic if fmt != "float" else None,
                     "cpu_int8_features": cpu_int8_features() if fmt != "float" else None})
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise BgbenchError(f"expected one image input, found {len(inputs)} inputs "
                               f"({', '.join(i.name for i in inputs)})", path)
        self.input = inputs[0]
        self.output_name = self.session.get_outputs()[0].name
        shape = list(self.input.shape)
        if len(shape) != 4:
            raise BgbenchError(f"expected a 4-d image input, found shape {shape}", path)
        if _dim(shape[1]) == 3:
            self.layout, spatial = "NCHW", shape[2:4]
        elif _dim(shape[3]) == 3:
            self.layout, spatial = "NHWC", shape[1:3]
        else:
            raise BgbenchError(f"cannot tell the channel axis of input shape {shape} (expected 3 channels)",
                               path)
        if self.input.type not in ("tensor(float)", "tensor(float16)"):
            raise BgbenchError(f"unsupported input type {self.input.type} (float32/float16 expected)", path)
        self.input_dtype = np.float16 if self.input.type == "tensor(float16)" else np.float32
        h, w = _dim(spatial[0]), _dim(spatial[1])
        if h and w and h != w:
            raise BgbenchError(f"non-square input {h}x{w} is not supported", path)
        fixed = h if h and w else None
        native = Preprocessing(mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=fixed,
                               interpolation="bilinear", name="onnx-imagenet")
        super().__init__(spec, native, device, info)
        self.batch = _dim(shape[0])
        probe = self.raw_outputs(torch.full((1, 3, fixed or 224, fixed or 224), 0.5))
        graph_outputs = int(probe.shape[1])
        self.preprocessing = choose_preprocessing(opts, native, graph_outputs - int(graph_outputs == 1001),
                                                  fixed)
        self.finish_setup(graph_outputs)
        self.info.update({"input_name": self.input.name, "input_shape": [str(v) for v in shape],
                          "layout": self.layout, "graph_batch": self.batch,
                          "providers": self.session.get_providers(),
                          "input_size": self.preprocessing.input_size,
                          "output_space": output_space(self.num_outputs)})

    @staticmethod
    def _load_graph(path: Path, int8: str) -> tuple[str | bytes, str, str]:
        """(what to hand onnxruntime, quantization format, int8 arithmetic actually used).

        Quantized QOperator graphs are rewritten in reference mode; a graph the rewrite does not
        cover runs natively with a warning (and says so in ``describe()``).
        """
        try:
            import onnx
        except ModuleNotFoundError:  # onnxruntime alone: no inspection, native kernels
            return str(path), "unknown", "native"
        try:
            proto = onnx.load(str(path))
        except Exception as exc:  # protobuf DecodeError and friends
            raise BgbenchError(f"not an ONNX model onnxruntime can load ({first_line(exc)})", path) from exc
        fmt = quantization_format(proto)
        if fmt != "qoperator" or int8 == "native":
            return str(path), fmt, int8
        try:
            return to_reference(proto).SerializeToString(), fmt, "reference"
        except UnsupportedQuantizedGraph as exc:
            print(f"warning: {path}: {exc}; its int8 operators run on onnxruntime's own kernels, whose "
                  "results can differ between CPUs", file=sys.stderr)
            return str(path), fmt, f"native ({exc})"

    def run_chunk(self, x: np.ndarray) -> np.ndarray:
        out = self.session.run([self.output_name], {self.input.name: x.astype(self.input_dtype, copy=False)})
        return np.asarray(out[0], dtype=np.float32)


def cuda_usable() -> bool:
    """Whether onnxruntime here can run on CUDA (its CUDAExecutionProvider is installed, i.e.
    onnxruntime-gpu); when not, ``device="auto"`` means the CPU (read by
    :func:`bgbench.models.concrete_device`)."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def create(target: str, opts: ModelOptions) -> OnnxClassifier:
    """Factory for ``onnx:FILE``."""
    path, info = file_model_options(opts, "onnx", target, "ONNX model")
    device = torch.device(opts.device)
    if device.type == "cuda" and not cuda_usable():
        raise BgbenchError("--device cuda for onnx: needs onnxruntime-gpu (CUDAExecutionProvider)")
    return OnnxClassifier(path, f"onnx:{target}", device, opts, info)
