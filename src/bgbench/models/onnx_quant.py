"""Quantized ONNX graphs in reference arithmetic, so that results do not depend on the CPU.

onnxruntime runs int8 operators (QLinearConv, QLinearMatMul, and the fused kernels it builds from
QDQ patterns) with kernels chosen for the CPU. On x86 CPUs without VNNI the u8 x s8 kernels add
pairs of products in 16-bit registers, which saturate: the same graph then gives other logits, and
other top-1 predictions, than on a CPU with VNNI or on the operators' definition. Measured on the
project's 370 real photos (AMD EPYC, AVX2, no VNNI, onnxruntime 1.24-1.32): the MobileNetV2
QOperator graph scores 79.7% natively against 85.4% in exact integer arithmetic, the ShuffleNetV2
QDQ graph 74.3% against 81.1%. A benchmark must not change its figures with the machine, so
bgbench runs quantized graphs in *reference* arithmetic by default:

- QOperator graphs are rewritten (:func:`to_reference`) so that every integer operator becomes
  float operators on integer-valued tensors: ``QLinearConv(x, w)`` becomes
  ``Conv(float(x) - x_zp, w - w_zp) + bias``, times ``x_scale * w_scale / y_scale``, then
  ``QuantizeLinear`` (round half to even, saturate) with scale 1 and the output zero point. The
  accumulations are exact while they stay under 2**24 in magnitude (beyond, within one part in
  10**7), so the integers agree with the operator definition up to ties in the final rounding.
  Elementwise and pooling operators (QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu,
  QLinearConcat, QLinearAveragePool, QLinearGlobalAveragePool) dequantize, apply the float
  operator and requantize, which is how their definitions read. ConvInteger and MatMulInteger
  become the float operator on centred integers, cast back to int32.
- QDQ graphs are already written that way; they only need onnxruntime's graph optimisations off
  (:func:`session_options`), which would otherwise fuse them back into the CPU's int8 kernels.

``native`` keeps onnxruntime's own kernels (faster, machine-dependent). Pure functions on
``onnx.ModelProto``; nothing here runs a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: Operators :func:`to_reference` rewrites (QOperator format and the integer-only operators).
REWRITTEN_OPS = frozenset({
    "QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul", "QLinearSigmoid", "QLinearLeakyRelu",
    "QLinearConcat", "QLinearAveragePool", "QLinearGlobalAveragePool", "ConvInteger", "MatMulInteger",
})
#: Every operator that marks a graph as quantized.
QUANT_MARKERS = REWRITTEN_OPS | {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}


class UnsupportedQuantizedGraph(ValueError):
    """The graph holds quantized operators that :func:`to_reference` cannot rewrite."""


def quantization_format(model: Any) -> str:
    """``float`` (no quantized operator), ``qdq`` (only Quantize/DequantizeLinear) or ``qoperator``."""
    ops = {node.op_type for node in model.graph.node}
    if ops & REWRITTEN_OPS or any(op.startswith("QLinear") for op in ops):
        return "qoperator"
    if ops & QUANT_MARKERS:
        return "qdq"
    return "float"


def session_options(ort: Any, quantized: bool, int8: str) -> Any:
    """onnxruntime SessionOptions: graph optimisations off for quantized graphs in reference mode."""
    so = ort.SessionOptions()
    if quantized and int8 == "reference":
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return so


def cpu_int8_features() -> list[str]:
    """The x86 dot-product features that decide onnxruntime's int8 kernels (Linux; [] elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return []
    match = re.search(r"^flags\s*:\s*(.*)$", text, flags=re.MULTILINE)
    flags = set(match.group(1).split()) if match else set()
    return [f for f in ("avx2", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]


def to_reference(model: Any) -> Any:
    """A copy of ``model`` (onnx.ModelProto) whose integer operators run as exact float arithmetic.

    Raises :class:`UnsupportedQuantizedGraph` naming any ``QLinear*`` operator it does not know.
    Graph inputs, outputs and every other node are unchanged, so the result is a drop-in graph.
    """
    import onnx

    unknown = sorted({n.op_type for n in model.graph.node
                      if n.op_type.startswith("QLinear") and n.op_type not in REWRITTEN_OPS})
    if unknown:
        raise UnsupportedQuantizedGraph(f"no reference rewrite for {', '.join(unknown)}")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    _Rewriter(out.graph).run()
    return out


class _Rewriter:
    """Replaces the graph's integer operators in place (see the module docstring for the rules)."""

    def __init__(self, graph: Any) -> None:
        from onnx import numpy_helper

        self.graph = graph
        self.numpy_helper = numpy_helper
        self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.nodes: list[Any] = []
        self.count = 0

    # -- building blocks ------------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        self.count += 1
        return f"bgbench_ref{self.count}_{hint}"

    def const(self, value: Any, hint: str) -> str:
        name = self.fresh(hint)
        self.graph.initializer.append(self.numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        output = output or self.fresh(op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=self.fresh(op_type + "_node"),
                                           **attrs))
        return output

    def value(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def scalar(self, name: str) -> float:
        array = self.value(name)
        if array is None or array.size != 1:
            raise UnsupportedQuantizedGraph(f"scale or zero point {name!r} is not a constant scalar")
        return float(array.reshape(-1)[0])

    def zero_point(self, name: str | None) -> np.ndarray:
        if not name:
            return np.zeros(1)
        array = self.value(name)
        if array is None:
            raise UnsupportedQuantizedGraph(f"zero point {name!r} is not a constant")
        return array.astype(np.float64)

    def centred(self, name: str, zp: str | None, channel_axis: int | None = None) -> str:
        """``float(name) - zp`` (integer-valued float32); folded when ``name`` is a constant."""
        import onnx

        z = self.zero_point(zp)
        array = self.value(name)
        if array is not None:
            if z.size > 1 and channel_axis is not None:
                shape = [1] * array.ndim
                shape[channel_axis] = -1
                z = z.reshape(shape)
            return self.const(array.astype(np.float64) - z, "int")
        cast = self.op("Cast", [name], to=onnx.TensorProto.FLOAT)
        if z.size == 1 and float(z.reshape(-1)[0]) == 0.0:
            return cast
        if z.size != 1:
            raise UnsupportedQuantizedGraph(f"per-channel zero point {zp!r} on a computed tensor")
        return self.op("Sub", [cast, self.const(z.reshape(()), "zp")])

    def dequantized(self, name: str, scale: str, zp: str) -> str:
        return self.op("Mul", [self.centred(name, zp), self.const(self.scalar(scale), "scale")])

    def requantize(self, value: str, y_scale: str | None, y_zp: str, output: str,
                   multiplier: Any = None) -> None:
        """``QuantizeLinear(value * multiplier)`` into ``output`` with scale 1 and ``y_zp``.

        ``multiplier`` defaults to ``1 / y_scale``; integer accumulators pass ``in_scale / y_scale``
        (what onnxruntime's requantisation multiplies by), per channel where the weights are.
        """
        if multiplier is None:
            multiplier = 1.0 / self.scalar(y_scale) if y_scale else 1.0
        scaled = self.op("Mul", [value, self.const(multiplier, "mult")])
        self.op("QuantizeLinear", [scaled, self.const(1.0, "one"), y_zp], output)

    # -- operators ------------------------------------------------------------------------------
    def run(self) -> None:
        handlers: dict[str, Callable[[Any, list[str], dict[str, Any]], None]] = {
            "QLinearConv": self.qlinear_conv, "QLinearMatMul": self.qlinear_matmul,
            "QLinearAdd": self.elementwise, "QLinearMul": self.elementwise,
            "QLinearSigmoid": self.unary, "QLinearLeakyRelu": self.unary,
            "QLinearAveragePool": self.unary, "QLinearGlobalAveragePool": self.unary,
            "QLinearConcat": self.qlinear_concat,
            "ConvInteger": self.integer_op, "MatMulInteger": self.integer_op,
        }
        from onnx import helper

        for node in list(self.graph.node):
            handler = handlers.get(node.op_type)
            if handler is None:
                self.nodes.append(node)
                continue
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            handler(node, list(node.input), attrs)
        del self.graph.node[:]
        self.graph.node.extend(self.nodes)

    def qlinear_conv(self, node: Any, ins: list[str], attrs: dict[str, Any]) -> None:
        x, xs, xz, w, ws, wz, ys, yz = ins[:8]
        weights = self.value(w)
        if weights is None:
            raise UnsupportedQuantizedGraph(f"QLinearConv {node.name!r} has computed weights")
        conv_in = [self.centred(x, xz), self.centred(w, wz, channel_axis=0)]
        if len(ins) > 8 and ins[8]:
            conv_in.append(self.const(self.value(ins[8]).astype(np.float64), "bias"))
        acc = self.op("Conv", conv_in, **attrs)
        in_scale = self.scalar(xs) * self.value(ws).astype(np.float64).reshape(-1)
        multiplier = (in_scale / self.scalar(ys)).reshape(1, -1, *([1] * (weights.ndim - 2)))
        self.requantize(acc, None, yz, node.output[0], multiplier if multiplier.size > 1
                        else multiplier.reshape(()))

    def qlinear_matmul(self, node: Any, ins: list[str], attrs: dict[str, Any]) -> None:
        a, a_s, a_z, b, b_s, b_z, ys, yz = ins
        b_axis = None if self.value(b) is None else self.value(b).ndim - 1
        acc = self.op("MatMul", [self.centred(a, a_z), self.centred(b, b_z, channel_axis=b_axis)])
        b_scale = self.value(b_s)
        if b_scale is None:
            raise UnsupportedQuantizedGraph(f"QLinearMatMul {node.name!r} has a computed scale")
        multiplier = self.scalar(a_s) * b_scale.astype(np.float64) / self.scalar(ys)
        self.requantize(acc, None, yz, node.output[0], multiplier)

    def elementwise(self, node: Any, ins: list[str], attrs: dict[str, Any]) -> None:
        a, a_s, a_z, b, b_s, b_z, ys, yz = ins
        float_op = {"QLinearAdd": "Add", "QLinearMul": "Mul"}[node.op_type]
        result = self.op(float_op, [self.dequantized(a, a_s, a_z), self.dequantized(b, b_s, b_z)])
        self.requantize(result, ys, yz, node.output[0])

    def unary(self, node: Any, ins: list[str], attrs: dict[str, Any]) -> None:
        x, xs, xz, ys, yz = ins
        if attrs.pop("channels_last", 0):
            raise UnsupportedQuantizedGraph(f"{node.op_type} {node.name!r} with channels_last")
        float_op = {"QLinearSigmoid": "Sigmoid", "QLinearLeakyRelu": "LeakyRelu",
                    "QLinearAveragePool": "AveragePool", "QLinearGlobalAveragePool": "GlobalAveragePool"}
        result = self.op(float_op[node.op_type], [self.dequantized(x, xs, xz)], **attrs)
        self.requantize(result, ys, yz, node.output[0])

    def qlinear_concat(self, node: Any, ins: list[str], attrs: dict[str, Any]) -> None:
        ys, yz, rest = ins[0], ins[1], ins[2:]
        parts = [self.dequantized(*rest[i:i + 3]) for i in range(0, len(rest), 3)]
        self.requantize(self.op("Concat", parts, **attrs), ys, yz, node.output[0])

    def integer_op(self, node: Any, ins: list[str], attrs: dict[str, Any]) -> None:
        import onnx

        a, b = ins[0], ins[1]
        a_z = ins[2] if len(ins) > 2 else None
        b_z = ins[3] if len(ins) > 3 else None
        b_axis = None
        if self.value(b) is not None:
            b_axis = 0 if node.op_type == "ConvInteger" else self.value(b).ndim - 1
        float_op = {"ConvInteger": "Conv", "MatMulInteger": "MatMul"}[node.op_type]
        acc = self.op(float_op, [self.centred(a, a_z), self.centred(b, b_z, channel_axis=b_axis)], **attrs)
        self.op("Cast", [acc], node.output[0], to=onnx.TensorProto.INT32)
