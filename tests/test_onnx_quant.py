"""Quantized ONNX graphs in reference arithmetic (bgbench.models.onnx_quant), on generated graphs.

Two properties: (1) on values where every kernel is exact, the rewritten graph gives the same
integers as onnxruntime's own kernels for every operator the rewrite covers (so the rewrite has the
operators' semantics); (2) on values that overflow 16-bit pair sums (what breaks u8 x s8 kernels on
CPUs without VNNI), it gives the exact integer result computed independently in float64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from bgbench.errors import BgbenchError  # noqa: E402
from bgbench.models import create_classifier  # noqa: E402
from bgbench.models.onnx_quant import (  # noqa: E402
    UnsupportedQuantizedGraph,
    quantization_format,
    session_options,
    to_reference,
)

MS = "com.microsoft"


def _init(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(value, name)


def _model(nodes: list, inits: list, inputs: list, outputs: list) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    return model


def _run(model: onnx.ModelProto, feeds: dict, *, reference: bool) -> list[np.ndarray]:
    proto = to_reference(model) if reference else model
    so = session_options(ort, quantized=True, int8="reference" if reference else "native")
    session = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _scalar(name: str, value: float, dtype=np.float32) -> onnx.TensorProto:
    return _init(name, np.array(value, dtype=dtype))


def every_operator_graph(rng: np.random.Generator) -> onnx.ModelProto:
    """Float input (1,4,6,6) -> Quantize -> QLinearConv -> LeakyRelu/Add/Mul/Sigmoid/Concat ->
    AveragePool -> GlobalAveragePool -> Reshape -> QLinearMatMul -> Dequantize; every intermediate
    quantized tensor is also a graph output."""
    u8 = lambda n, z: _scalar(n, z, np.uint8)  # noqa: E731
    inits = [
        _scalar("s_in", 0.02),
        u8("z_in", 128),
        _init("w", rng.integers(-3, 4, size=(8, 4, 3, 3)).astype(np.int8)),  # small: no kernel overflows
        _init("w_s", rng.uniform(0.01, 0.03, size=8).astype(np.float32)),
        _init("w_z", np.zeros(8, np.int8)),
        _init("bias", rng.integers(-200, 200, size=8).astype(np.int32)),
        # scales with "irrational" ratios, as trained graphs have: exact rounding ties stay rare
        _scalar("s1", 0.0513),
        u8("z1", 100),
        _scalar("s2", 0.0417),
        u8("z2", 90),
        _scalar("s3", 0.0611),
        u8("z3", 110),
        _scalar("s4", 0.0297),
        u8("z4", 120),
        _scalar("s5", 1 / 255),
        u8("z5", 0),
        _scalar("s6", 0.0589),
        u8("z6", 100),
        _scalar("s7", 0.0493),
        u8("z7", 100),
        _scalar("s8", 0.0431),
        u8("z8", 110),
        _init("shape", np.array([1, 16], np.int64)),
        _init("b", rng.integers(-5, 6, size=(16, 10)).astype(np.int8)),
        _init("b_s", rng.uniform(0.01, 0.05, size=10).astype(np.float32)),
        _init("b_z", np.zeros(10, np.int8)),
        _scalar("s_out", 0.02),
        u8("z_out", 128),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["q0"]),
        helper.make_node(
            "QLinearConv",
            ["q0", "s_in", "z_in", "w", "w_s", "w_z", "s1", "z1", "bias"],
            ["q1"],
            pads=[1, 1, 1, 1],
        ),
        helper.make_node("QLinearLeakyRelu", ["q1", "s1", "z1", "s2", "z2"], ["q2"], domain=MS, alpha=0.1),
        helper.make_node("QLinearAdd", ["q1", "s1", "z1", "q2", "s2", "z2", "s3", "z3"], ["q3"], domain=MS),
        helper.make_node("QLinearMul", ["q3", "s3", "z3", "q1", "s1", "z1", "s4", "z4"], ["q4"], domain=MS),
        helper.make_node("QLinearSigmoid", ["q4", "s4", "z4", "s5", "z5"], ["q5"], domain=MS),
        helper.make_node(
            "QLinearConcat", ["s6", "z6", "q3", "s3", "z3", "q5", "s5", "z5"], ["q6"], domain=MS, axis=1
        ),
        helper.make_node(
            "QLinearAveragePool",
            ["q6", "s6", "z6", "s7", "z7"],
            ["q7"],
            domain=MS,
            kernel_shape=[2, 2],
            strides=[2, 2],
        ),
        helper.make_node("QLinearGlobalAveragePool", ["q7", "s7", "z7", "s8", "z8"], ["q8"], domain=MS),
        helper.make_node("Reshape", ["q8", "shape"], ["q9"]),
        helper.make_node("QLinearMatMul", ["q9", "s8", "z8", "b", "b_s", "b_z", "s_out", "z_out"], ["q10"]),
        helper.make_node("DequantizeLinear", ["q10", "s_out", "z_out"], ["y"]),
    ]
    names = ["q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q10"]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    outputs += [helper.make_tensor_value_info(n, TensorProto.UINT8, None) for n in names]
    return _model(
        nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])], outputs
    )


def _deq(q: np.ndarray, s: float, z: float) -> np.ndarray:
    return (q.astype(np.float64) - z) * s


def _quant(v: np.ndarray, s: float, z: float) -> np.ndarray:
    return np.clip(np.round(v / s) + z, 0, 255)  # np.round: half to even, as QuantizeLinear


def _definitions(q: dict[str, np.ndarray], c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each quantized tensor recomputed in float64 from its operator's definition and its inputs."""
    f = {k: float(v) for k, v in c.items() if np.ndim(v) == 0}
    acc = torch.nn.functional.conv2d(
        torch.from_numpy(q["q0"].astype(np.float64) - f["z_in"]),
        torch.from_numpy(c["w"].astype(np.float64)),
        padding=1,
    ).numpy()
    acc = acc + c["bias"].reshape(1, -1, 1, 1)
    d1, d3 = _deq(q["q1"], f["s1"], f["z1"]), _deq(q["q3"], f["s3"], f["z3"])
    d6 = _deq(q["q6"], f["s6"], f["z6"])
    pooled = d6.reshape(1, 16, 3, 2, 3, 2).mean(axis=(3, 5))
    q9 = q["q8"].reshape(1, 16).astype(np.float64)
    return {
        "q1": np.clip(
            np.round(acc * (f["s_in"] * c["w_s"].astype(np.float64)).reshape(1, -1, 1, 1) / f["s1"])
            + f["z1"],
            0,
            255,
        ),
        "q2": _quant(np.where(d1 >= 0, d1, 0.1 * d1), f["s2"], f["z2"]),
        "q3": _quant(d1 + _deq(q["q2"], f["s2"], f["z2"]), f["s3"], f["z3"]),
        "q4": _quant(d3 * d1, f["s4"], f["z4"]),
        "q5": _quant(1 / (1 + np.exp(-_deq(q["q4"], f["s4"], f["z4"]))), f["s5"], f["z5"]),
        "q6": _quant(np.concatenate([d3, _deq(q["q5"], f["s5"], f["z5"])], axis=1), f["s6"], f["z6"]),
        "q7": _quant(pooled, f["s7"], f["z7"]),
        "q8": _quant(_deq(q["q7"], f["s7"], f["z7"]).mean(axis=(2, 3), keepdims=True), f["s8"], f["z8"]),
        "q10": _quant(
            (q9 - f["z8"]) @ c["b"].astype(np.float64) * f["s8"] * c["b_s"].astype(np.float64),
            f["s_out"],
            f["z_out"],
        ),
    }


def test_reference_rewrite_follows_each_operators_definition() -> None:
    rng = np.random.default_rng(0)
    model = every_operator_graph(rng)
    assert quantization_format(model) == "qoperator"
    rewritten = to_reference(model)
    assert quantization_format(rewritten) == "qdq"  # only Quantize/DequantizeLinear remain
    assert [o.name for o in rewritten.graph.output] == [o.name for o in model.graph.output]
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    x = rng.normal(0, 1, size=(1, 4, 6, 6)).astype(np.float32)
    names = [o.name for o in model.graph.output]
    reference = dict(zip(names, _run(model, {"x": x}, reference=True), strict=True))
    native = dict(zip(names, _run(model, {"x": x}, reference=False), strict=True))
    expected = _definitions(reference, consts)
    for name, want in expected.items():
        got = reference[name].astype(np.float64)
        assert got.shape == want.shape, name
        diff = np.abs(got - want)
        # float32 evaluation: a value within ~1e-7 of a rounding tie may land on the other side
        assert diff.max() <= 1 and (diff == 0).mean() >= 0.99, (name, diff.max(), (diff == 0).mean())
        assert len(np.unique(got)) > 3, name  # not all saturated
        # onnxruntime's own kernels approximate the same definitions (fixed point, lookup tables)
        assert np.abs(native[name].astype(np.float64) - got).max() <= 2, name
    assert np.abs(native["y"] - reference["y"]).max() <= 2 * 0.02 + 1e-6


def test_reference_conv_is_exact_where_16_bit_pair_sums_overflow() -> None:
    rng = np.random.default_rng(1)
    w = rng.choice(np.array([-127, 127], np.int8), size=(6, 16, 3, 3))
    w_s = rng.uniform(0.002, 0.004, size=6).astype(np.float32)
    s_in, s_out, z_out = np.float32(1 / 255), np.float32(0.1), np.uint8(128)
    inits = [
        _scalar("s_in", s_in),
        _scalar("z_in", 0, np.uint8),
        _init("w", w),
        _init("w_s", w_s),
        _init("w_z", np.zeros(6, np.int8)),
        _scalar("s_out", s_out),
        _scalar("z_out", z_out, np.uint8),
    ]
    nodes = [
        helper.make_node("QLinearConv", ["x", "s_in", "z_in", "w", "w_s", "w_z", "s_out", "z_out"], ["y"])
    ]
    model = _model(
        nodes,
        inits,
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 16, 9, 9])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None)],
    )
    x = rng.integers(200, 256, size=(1, 16, 9, 9)).astype(np.uint8)  # 255 * 127 * 2 > 32767
    (got,) = _run(model, {"x": x}, reference=True)
    acc = torch.nn.functional.conv2d(
        torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64))
    )
    scale = torch.from_numpy(s_in.astype(np.float64) * w_s.astype(np.float64) / np.float64(s_out))
    exact = torch.clamp(torch.round(acc * scale.reshape(1, -1, 1, 1)) + float(z_out), 0, 255).numpy()
    diff = np.abs(got.astype(np.float64) - exact)
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99
    assert len(np.unique(got)) > 20


def test_integer_ops_are_exact() -> None:
    rng = np.random.default_rng(2)
    w = rng.integers(-128, 128, size=(5, 3, 3, 3)).astype(np.int8)
    b = rng.integers(-128, 128, size=(7, 4)).astype(np.int8)
    inits = [_init("w", w), _init("wz", np.int8(3)), _init("xz", np.uint8(17)), _init("b", b)]
    nodes = [
        helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], pads=[1, 1, 1, 1]),
        helper.make_node("MatMulInteger", ["a", "b"], ["z"]),
    ]
    model = _model(
        nodes,
        inits,
        [
            helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 3, 5, 5]),
            helper.make_tensor_value_info("a", TensorProto.UINT8, [2, 7]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.INT32, None),
            helper.make_tensor_value_info("z", TensorProto.INT32, None),
        ],
    )
    x = rng.integers(0, 256, size=(1, 3, 5, 5)).astype(np.uint8)
    a = rng.integers(0, 256, size=(2, 7)).astype(np.uint8)
    y, z = _run(model, {"x": x, "a": a}, reference=True)
    exact_y = torch.nn.functional.conv2d(
        torch.from_numpy(x.astype(np.int64) - 17).double(),
        torch.from_numpy(w.astype(np.int64) - 3).double(),
        padding=1,
    )
    assert y.dtype == np.int32 and np.array_equal(y, exact_y.numpy().astype(np.int32))
    assert z.dtype == np.int32 and np.array_equal(z, a.astype(np.int32) @ b.astype(np.int32))


def test_unknown_qlinear_operator_is_named() -> None:
    node = helper.make_node("QLinearSoftmax", ["x", "s", "z", "s", "z"], ["y"], domain=MS)
    model = _model(
        [node],
        [_scalar("s", 0.1), _scalar("z", 0, np.uint8)],
        [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None)],
    )
    with pytest.raises(UnsupportedQuantizedGraph, match="QLinearSoftmax"):
        to_reference(model)


def _classifier_graph(path: Path) -> None:
    """A tiny image classifier in QOperator form: float (1,3,8,8) -> 5 float logits."""
    rng = np.random.default_rng(3)
    u8 = lambda n, z: _scalar(n, z, np.uint8)  # noqa: E731
    inits = [
        _scalar("s_in", 0.03),
        u8("z_in", 128),
        _init("w", rng.integers(-20, 21, (5, 3, 3, 3)).astype(np.int8)),
        _scalar("w_s", 0.01),
        _scalar("w_z", 0, np.int8),
        _scalar("s1", 0.05),
        u8("z1", 60),
        _scalar("s2", 0.05),
        u8("z2", 60),
        _init("shape", np.array([-1, 5], np.int64)),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["q0"]),
        helper.make_node("QLinearConv", ["q0", "s_in", "z_in", "w", "w_s", "w_z", "s1", "z1"], ["q1"]),
        helper.make_node("QLinearGlobalAveragePool", ["q1", "s1", "z1", "s2", "z2"], ["q2"], domain=MS),
        helper.make_node("DequantizeLinear", ["q2", "s2", "z2"], ["f"]),
        helper.make_node("Reshape", ["f", "shape"], ["logits"]),
    ]
    model = _model(
        nodes,
        inits,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)],
    )
    onnx.save(model, str(path))


def test_onnx_adapter_records_and_switches_int8_arithmetic(tmp_path: Path) -> None:
    path = tmp_path / "q.onnx"
    _classifier_graph(path)
    ref = create_classifier(f"onnx:{path}", device="cpu")
    native = create_classifier(f"onnx:{path}", device="cpu", int8="native")
    info = ref.describe()
    assert info["quantization"] == "qoperator" and info["int8_arithmetic"] == "reference"
    assert info["onnxruntime"] == ort.__version__ and isinstance(info["cpu_int8_features"], list)
    assert native.describe()["int8_arithmetic"] == "native"
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    out = ref(x)
    assert out.shape == (3, 5)
    # small weights: no kernel overflows, so both arithmetics agree to one quantization step
    assert (out - native(x)).abs().max().item() <= 0.05 + 1e-6
    with pytest.raises(BgbenchError, match="int8"):
        create_classifier(f"onnx:{path}", device="cpu", int8="fast")
